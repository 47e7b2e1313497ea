#!/usr/bin/env python3
"""Independent Frechet-distance reference for FeatureMetricsTests (numpy + scipy).

Usage: frechet_reference.py FILE...

Each FILE holds two feature sets: the 8 ASCII bytes "FEATSET1", three little-endian int32 (n1, n2, d),
then n1*d and n2*d little-endian float32 values (row-major). For each file one JSON object is printed
on its own line with:
  mu1, sigma1, mu2, sigma2   np.mean(axis=0) / np.cov(rowvar=False) in float64 (as pytorch-fid);
  fid_pytorch                pytorch-fid's calculate_frechet_distance verbatim: sqrtm(sigma1 @ sigma2),
                             retried with eps=1e-6 on both diagonals if not finite, real part;
  pytorch_used_eps           whether that retry happened;
  fid_pytorch_eps            the same formula with the eps=1e-6 offset always applied;
  fid_symmetric              the formula the Swift code uses, but with scipy's Schur-based sqrtm:
                             Tr(sqrtm(sqrtm(S1) S2 sqrtm(S1))), symmetrised, real parts.
"""
import json
import struct
import sys
import warnings

import numpy as np
from scipy import linalg


def sqrtm(matrix):
    # scipy >= 1.16 deprecates `disp`; pytorch-fid passes disp=False and reads the first element.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = linalg.sqrtm(matrix, disp=False)[0]
        except TypeError:
            result = linalg.sqrtm(matrix)
    return result


def pytorch_fid(mu1, sigma1, mu2, sigma2, eps=1e-6, force_eps=False):
    """pytorch-fid (src/pytorch_fid/fid_score.py) calculate_frechet_distance."""
    diff = mu1 - mu2
    used_eps = False
    covmean = None if force_eps else sqrtm(sigma1.dot(sigma2))
    if covmean is None or not np.isfinite(covmean).all():
        used_eps = True
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component {}".format(np.max(np.abs(covmean.imag))))
        covmean = covmean.real
    value = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
    return float(value), used_eps


def symmetric_fid(mu1, sigma1, mu2, sigma2):
    diff = mu1 - mu2
    root1 = np.real(sqrtm(sigma1))
    m = root1 @ sigma2 @ root1
    m = 0.5 * (m + m.T)
    trace = np.trace(np.real(sqrtm(m)))
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace)


def read(path):
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:8] != b"FEATSET1":
        raise SystemExit(f"{path}: bad magic {data[:8]!r}")
    n1, n2, d = struct.unpack("<3i", data[8:20])
    values = np.frombuffer(data, dtype="<f4", offset=20)
    if values.size != (n1 + n2) * d:
        raise SystemExit(f"{path}: expected {(n1 + n2) * d} floats, found {values.size}")
    a = values[: n1 * d].reshape(n1, d).astype(np.float64)
    b = values[n1 * d:].reshape(n2, d).astype(np.float64)
    return a, b


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for path in sys.argv[1:]:
        a, b = read(path)
        mu1, mu2 = np.mean(a, axis=0), np.mean(b, axis=0)
        sigma1, sigma2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        fid, used_eps = pytorch_fid(mu1, sigma1, mu2, sigma2)
        fid_eps, _ = pytorch_fid(mu1, sigma1, mu2, sigma2, force_eps=True)
        print(json.dumps({
            "mu1": mu1.tolist(), "sigma1": sigma1.ravel().tolist(),
            "mu2": mu2.tolist(), "sigma2": sigma2.ravel().tolist(),
            "fid_pytorch": fid, "pytorch_used_eps": used_eps, "fid_pytorch_eps": fid_eps,
            "fid_symmetric": symmetric_fid(mu1, sigma1, mu2, sigma2),
        }))


if __name__ == "__main__":
    main()
