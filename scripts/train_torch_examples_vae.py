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
import torch.nn.functional as F
from torch import nn


def images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    count = int.from_bytes(data[4:8], "big")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, 784).astype(np.float32) / 255


class ExamplesVAE(nn.Module):
    """fc1 (784 -> 400) ReLU -> fc21 (mean), fc22 (log-variance); fc3 (20 -> 400) ReLU -> fc4 -> sigmoid."""

    def __init__(self, z=20):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, z), nn.Linear(400, z)
        self.fc3, self.fc4 = nn.Linear(z, 400), nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mean, log_variance = self.fc21(h), self.fc22(h)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
        logits = self.fc4(F.relu(self.fc3(z)))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + log_variance - mean.pow(2) - log_variance.exp())
        return bce + kl


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
    model = ExamplesVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        start, total = time.time(), 0.0
        for batch in torch.randperm(len(train)).split(256):
            loss = model(train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch}: loss {total / len(train):.3f} per image, {time.time() - start:.1f} s", flush=True)
    torch.save(model.state_dict(), args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
