#!/usr/bin/env python3
"""Trains the pytorch/examples VAE (784-400-20, BCE summed + KL) in PyTorch with the study's protocol (batch 256,
Adam lr 1e-3, 10 epochs) on real MNIST and saves its state dict, for `vae-eval import FILE --model vae_std_z20`.

    scripts/torch-python scripts/train_torch_examples_vae.py MNIST_DIR OUT.pt [--epochs 10] [--seed 1] [--threads 2]

MNIST_DIR holds the four original .gz files. Prints each epoch's mean loss per image and its seconds.
"""
import argparse
import gzip
import time

import numpy as np
import torch

from torch_models import MLPVAE  # noqa: E402 (this script's folder)
from torch_reference import loss  # noqa: E402 (BCE summed + analytic KL, vae/main.py's loss)


def images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    count = int.from_bytes(data[4:8], "big")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, 784).astype(np.float32) / 255


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mnist")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train = torch.from_numpy(images(f"{args.mnist}/train-images-idx3-ubyte.gz"))
    model = MLPVAE(20)  # pytorch/examples vae/main.py: fc1, fc21, fc22, fc3, fc4
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        start, total = time.time(), 0.0
        for batch in torch.randperm(len(train)).split(256):
            batch_loss = loss(model, train[batch])
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item()
        print(f"epoch {epoch}: loss {total / len(train):.3f} per image, {time.time() - start:.1f} s", flush=True)
    torch.save(model.state_dict(), args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
