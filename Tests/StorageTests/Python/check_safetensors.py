#!/usr/bin/env python3
"""Independent cross-check of the Swift safetensors reader/writer against the reference implementation.

Usage:
    check_safetensors.py probe          exit 0 if numpy and safetensors are importable
    check_safetensors.py check PATH     verify the file the Swift test wrote (SafeTensorsTests.swift)
    check_safetensors.py write PATH     write a file with safetensors.numpy.save_file for Swift to read
    check_safetensors.py reject PATH... verify that the reference loader rejects every one of these files

The tensor values are recomputed here from the same formulas the Swift test uses; keep both in sync.
Prints "OK" and exits 0 on success; prints one line per problem to stderr and exits 1 otherwise.
"""
import json
import struct
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load, load_file, save_file

# What the Swift test writes (SafeTensorsTests.pythonReadsSwiftFile).
SWIFT_METADATA = {
    "purpose": "interop",
    "unicode": "ünïcødé ✓ 🎉",
    "escapes": 'quote " backslash \\ newline \n tab \t bell \x07',
    "empty": "",
}


def swift_tensors():
    i12 = np.arange(12)
    return {
        "f32.matrix": (i12 * 0.5 - 3).astype(np.float32).reshape(3, 4),
        "f64.thirds": (np.arange(5, dtype=np.float64) / 3.0),
        "i64.big": (np.arange(6, dtype=np.int64) * 1_000_000_007 - 3_000_000_000).reshape(2, 3),
        "u8.ramp": ((np.arange(7) * 37) % 256).astype(np.uint8),
        "f16.half": np.array([0.0, 1.0, -2.0, 0.5], dtype=np.float16),
        "bool.mask": np.array([True, False, True]),
        "scalar": np.array(42.5, dtype=np.float32),
        "empty": np.zeros((0,), dtype=np.float32),
        "empty2d": np.zeros((2, 0), dtype=np.int64),
    }


# What this script writes for Swift to read (SafeTensorsTests.swiftReadsPythonFile).
PYTHON_METADATA = {"writer": "python safetensors", "format": "np", "note": "päd ✓"}


def python_tensors():
    return {
        "py.f32": (np.arange(24) * 0.5 - 3).astype(np.float32).reshape(2, 3, 4),
        "py.f64": np.arange(7, dtype=np.float64) / 3.0,
        "py.i64": np.array([-(2**62), 0, 2**62 + 5], dtype=np.int64),
        "py.u8": ((np.arange(10) * 37) % 256).astype(np.uint8).reshape(2, 5),
        "py.scalar": np.array(7.25, dtype=np.float32),
        "py.empty": np.zeros((0, 3), dtype=np.float32),
    }


def check(path):
    problems = []
    expected = swift_tensors()

    # Raw layout checks, independent of the safetensors package.
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if (8 + n) % 8 != 0:
        problems.append(f"header length {n} does not align the buffer to 8 bytes")
    header_text = raw[8 : 8 + n].decode("utf-8")
    if not header_text.rstrip(" ").endswith("}"):
        problems.append("the header JSON is not followed by space padding only")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            problems.append(f"duplicate keys in header: {keys}")
        return dict(pairs)

    header = json.loads(header_text, object_pairs_hook=no_duplicates)
    names = sorted((k for k in header if k != "__metadata__"), key=lambda k: k.encode("utf-8"))
    position = 0
    for name in names:
        begin, end = header[name]["data_offsets"]
        if begin != position:
            problems.append(f"{name}: starts at {begin}, expected contiguous layout in name order at {position}")
        position = end
    if position != len(raw) - 8 - n:
        problems.append(f"buffer has {len(raw) - 8 - n} bytes, tensors cover {position}")

    # The reference loader.
    loaded = load_file(path)
    if set(loaded) != set(expected):
        problems.append(f"tensor names {sorted(loaded)} != {sorted(expected)}")
    for name, want in expected.items():
        got = loaded.get(name)
        if got is None:
            continue
        if got.dtype != want.dtype:
            problems.append(f"{name}: dtype {got.dtype} != {want.dtype}")
        elif got.shape != want.shape:
            problems.append(f"{name}: shape {got.shape} != {want.shape}")
        elif got.tobytes() != want.tobytes():
            problems.append(f"{name}: values differ: {got.ravel()[:8]} vs {want.ravel()[:8]}")

    with safe_open(path, framework="np") as f:
        metadata = f.metadata()
        if metadata != SWIFT_METADATA:
            problems.append(f"metadata {metadata!r} != {SWIFT_METADATA!r}")
        for name in expected:
            if name in set(f.keys()) and list(f.get_slice(name).get_shape()) != list(expected[name].shape):
                problems.append(f"{name}: safe_open shape {f.get_slice(name).get_shape()} != {list(expected[name].shape)}")
    return problems


def main(argv):
    if len(argv) == 2 and argv[1] == "probe":
        print("OK")
        return 0
    if len(argv) >= 3 and argv[1] == "reject":
        accepted = []
        for path in argv[2:]:
            try:
                with open(path, "rb") as f:
                    load(f.read())
            except Exception:  # the reference raises SafetensorError (or a subclass) for malformed files
                continue
            accepted.append(path)
        for path in accepted:
            print(f"accepted by the reference loader: {path}", file=sys.stderr)
        if accepted:
            return 1
        print("OK")
        return 0
    if len(argv) != 3 or argv[1] not in ("check", "write"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, path = argv[1], argv[2]
    if mode == "write":
        save_file(python_tensors(), path, metadata=PYTHON_METADATA)
        print("OK")
        return 0
    problems = check(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
