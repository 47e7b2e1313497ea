#!/usr/bin/env python3
"""Single-thread sgemm rate of OpenBLAS on the product shapes of a vae_std_z20 training step (and the 2048^3 peak).

The floor argument of notebooks-md/performance.md: no implementation can run these products faster than OpenBLAS
does here in isolation, warm, one core each. Calls libopenblas's cblas_sgemm through ctypes (numpy arrays only as
buffers), so numpy's own BLAS plays no part. Run as:

    OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 python3 scripts/gemm_shapes.py
"""
import ctypes
import time

import numpy as np

lib = ctypes.CDLL("libopenblas.so.0")
lib.cblas_sgemm.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                                 ctypes.c_int, ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
ROW_MAJOR, N, T = 101, 111, 112


def rate(ta, tb, m, n, k):
    """Best of 5 timings of `reps` back-to-back products, in GFLOP/s."""
    a = np.random.rand(m * k).astype(np.float32)
    b = np.random.rand(k * n).astype(np.float32)
    c = np.zeros(m * n, np.float32)
    lda, ldb = (k if ta == N else m), (n if tb == N else k)
    reps = 20 if m * n * k > 1e8 else 100
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(reps):
            lib.cblas_sgemm(ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, 0.0,
                            c.ctypes.data, n)
        best = min(best, (time.perf_counter() - start) / reps)
    return 2 * m * n * k / best / 1e9


SHAPES = [  # (what, transA, transB, m, n, k): the linear layers y = x W^T and their gradients, batch 256
    ("fc1 forward", N, T, 256, 400, 784), ("fc1 forward, half block", N, T, 256, 200, 784),
    ("fc4 forward", N, T, 256, 784, 400), ("fc4 forward, quarter block", N, T, 256, 200, 400),
    ("fc4 dx", N, N, 256, 400, 784), ("fc4 dW", T, N, 784, 400, 256), ("fc4 dW, quarter block", T, N, 200, 400, 256),
    ("fc1 dW", T, N, 400, 784, 256), ("square 2048", N, N, 2048, 2048, 2048),
]

if __name__ == "__main__":
    for what, ta, tb, m, n, k in SHAPES:
        print(f"{what:28s} {m}x{n}x{k}: {rate(ta, tb, m, n, k):6.1f} GFLOP/s")
