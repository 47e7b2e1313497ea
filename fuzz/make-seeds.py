#!/usr/bin/env python3
"""Writes the tiny, synthetic seed corpora of the fuzz targets (no MNIST data): fuzz/corpus/{safetensors,idx,npz}
(npz with numpy; the statedict seeds need torch, see fuzz/README.md).

Run from anywhere: python3 fuzz/make-seeds.py. The output is deterministic."""
import gzip, io, json, os, struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in order, as the toolkit's writer does."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(raw for *_, raw in tensors)

def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(payload)

def gz(data):
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as f:
        f.write(data)
    return buffer.getvalue()

seeds = {
    "safetensors": {
        "empty": safetensors([]),
        "metadata-only": safetensors([], {"format": "vae-toolkit-checkpoint", "format_version": "2"}),
        "one-f32": safetensors([("w", "F32", [2, 2], struct.pack("<4f", 1, -2, 0.5, 3))]),
        "scalar-and-empty": safetensors([("s", "F64", [], struct.pack("<d", 1.5)), ("z", "I64", [0, 3], b"")]),
        "all-dtypes": safetensors([(f"t{d}", d, [2], bytes(range(2 * n)))
                                   for d, n in [("BF16", 2), ("BOOL", 1), ("F16", 2), ("F32", 4), ("F64", 8),
                                                ("I16", 2), ("I32", 4), ("I64", 8), ("I8", 1), ("U8", 1)]]),
        "checkpoint-like": safetensors(
            [("decoder.fc.bias", "F32", [3], struct.pack("<3f", 0, 0, 1)),
             ("encoder.fc.weight", "F32", [3, 2], struct.pack("<6f", *range(6))),
             ("state.adam.m.encoder.fc.weight", "F32", [3, 2], bytes(24))],
            {"format": "vae-toolkit-checkpoint", "model_kind": "mlp_vae", "resume": "{\"adamStep\":3}",
             "escaped": "quote \" backslash \\ newline \n unicode \u00e9 \U0001F600"}),
    },
    "idx": {
        "labels": idx([3], [7, 0, 9]),
        "images": idx([2, 3, 3], range(18)),
        "empty": idx([0, 28, 28], []),
        "rank0": idx([], [5]),
        "labels.gz": gz(idx([3], [7, 0, 9])),
        "images.gz": gz(idx([2, 3, 3], range(18))),
        "two-members.gz": gz(idx([2], [1, 2])[:5]) + gz(idx([2], [1, 2])[5:]),
        "padded.gz": gz(idx([1], [4])) + bytes(8),
    },
}

def npz(function, **arrays):
    """np.savez / np.savez_compressed in memory (numpy stamps the current time into the ZIP headers)."""
    import numpy as np
    buffer = io.BytesIO()
    function(buffer, **arrays)
    return buffer.getvalue()

try:
    import numpy as np
    stats = dict(mu=np.arange(3) / 3, sigma=np.eye(3) * 0.5)
    seeds["npz"] = {
        "stats.npz": npz(np.savez, **stats),
        "stats-compressed.npz": npz(np.savez_compressed, **stats),
        "mixed.npz": npz(np.savez, pixels=np.arange(6, dtype=np.uint8).reshape(2, 3), f=np.array(0.5, dtype=np.float32)),
        "empty.npz": npz(np.savez),
    }
    # A bare .npy and a raw deflate stream: the harness also reads each input as an entry and as deflate data.
    npy = io.BytesIO()
    np.save(npy, stats["sigma"])
    seeds["npz"]["sigma.npy"] = npy.getvalue()
    import zlib
    raw = zlib.compressobj(wbits=-15)
    seeds["npz"]["sigma.deflate"] = raw.compress(npy.getvalue()) + raw.flush()
except ImportError:
    print("numpy is not importable: the npz seeds are not written")

for target, files in seeds.items():
    folder = os.path.join(root, target)
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(files)} seeds, {sum(map(len, files.values()))} bytes")
