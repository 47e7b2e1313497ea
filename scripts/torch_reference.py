#!/usr/bin/env python3
"""PyTorch reference implementations of two runs of the study, for side-by-side timing and numbers.

Used by `vae-bench --compare-torch` (when torch is importable) and by hand:

    python3 scripts/torch_reference.py --data ../shared/data/mnist --runs vae_std_z20,vae_conv --threads 1,2
    python3 scripts/torch_reference.py --data ../shared/data/mnist --runs vae_std_z20 --epochs 10 --evaluate

Prints one JSON object per (run, threads) line: seconds per epoch (data preloaded as one tensor, batch 256,
Adam lr 1e-3, the same architectures as the Swift models) and, with --evaluate, the test MSE with z = mean.
`vae-bench --compare-torch` runs it twice, with glibc's default malloc and with MALLOC_MMAP_THRESHOLD_=33554432
MALLOC_TRIM_THRESHOLD_=1073741824 (PyTorch's conv VAE loses ~30% to the defaults), and keeps the faster.
"""
import argparse, gzip, json, os, sys, time

import numpy as np
import torch
import torch.nn.functional as F


def load(folder, prefix):
    def read(name):
        path = os.path.join(folder, name)
        opener = gzip.open if os.path.exists(path) else open
        path = path if os.path.exists(path) else path[:-3]
        with opener(path, "rb") as f:
            return f.read()
    raw = read(f"{prefix}-images-idx3-ubyte.gz")
    n = int.from_bytes(raw[4:8], "big")
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 784).astype(np.float32) / 255
    return torch.from_numpy(images.copy())


# The same modules `vae-eval import` reads (scripts/torch_models.py, this script's folder), parameters created in the
# order of the Swift models.
from torch_models import ConvVAE, MLPVAE  # noqa: E402


def loss(model, x):
    mu, lv = model.encode(x)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
    bce = F.binary_cross_entropy_with_logits(model.logits(z), x, reduction="sum")
    return bce - 0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--runs", default="vae_std_z20,vae_conv")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--evaluate", action="store_true")
    a = p.parse_args()
    train = load(a.data, "train")
    test = load(a.data, "t10k") if a.evaluate else None
    for run in a.runs.split(","):
        for threads in [int(t) for t in a.threads.split(",")]:
            torch.set_num_threads(threads)
            torch.manual_seed(1)
            model = {"vae_std_z20": MLPVAE, "vae_conv": ConvVAE}[run]()
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            seconds = []
            for _ in range(a.epochs):
                start = time.perf_counter()
                for idx in torch.randperm(len(train)).split(256):
                    x = train[idx]
                    opt.zero_grad()
                    loss(model, x).backward()
                    opt.step()
                seconds.append(time.perf_counter() - start)
            out = {"run": run, "threads": threads, "seconds_per_epoch": min(seconds), "epochs": a.epochs,
                   "torch": torch.__version__}
            if a.evaluate:
                with torch.no_grad():
                    mu, _ = model.encode(test)
                    out["test_mse"] = float(((torch.sigmoid(model.logits(mu)) - test) ** 2).mean())
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
