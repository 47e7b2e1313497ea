#!/usr/bin/env python3
"""The pytorch/examples VAE (vae/main.py: fc1, fc21, fc22, fc3, fc4) with seeded weights, trained for a few batches on
a tiny IDX test set, saved as the Swift import test (ImportTests.swift) reads it.

Usage (through scripts/torch-python, which provides torch, numpy and safetensors):
    pytorch_examples_vae.py OUT_DIR IMAGES_IDX

For z in 20 and 40, OUT_DIR receives
    vae_z{z}.zip.pt, vae_z{z}.legacy.pt    model.state_dict() by torch.save, zip and legacy formats
    vae_z{z}.safetensors                   the same tensors by safetensors.torch
    vae_z{z}.json                          {"mse": test MSE}: mean over images and pixels of (x - decode(mu(x)))^2,
                                           the difference in float32, squared and summed in float64
    vae_z{z}.codes.npy, .decoded.npy       5 fixed latent codes (float32) and their decoded pixels
and broken.pt: the z = 20 state dict with fc4.bias removed, an extra fc5.weight, fc1.weight transposed and fc21.bias
as float64. The reference modules of scripts/torch_models.py (seeded random weights, zip format) are written the same
way as res.zip.pt (MLPVAE with two residual blocks), conv.zip.pt (ConvVAE), wae.zip.pt (WAE) and bn.zip.pt (MLPVAE with
batch norm, its running estimates moved by a few training-mode passes, evaluated in eval mode), with .json, .codes.npy
and .decoded.npy beside each; gm (GMVAE) and vq (VQVAE, codes of 49 x 16 numbers) are written in all three formats.
Each model with an ELBO (all but wae and vq) also gets .noise.npy, the fixed reparameterisation noise (float32,
[16, 20], or [10 * 16, 20] for gm, row y * 16 + b), and "negative_elbo" in its .json: the mean over the 16 images of
torch_models' negative_elbo(x, noise). Prints OK.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
import torch_models  # noqa: E402
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn


class VAE(nn.Module):
    """pytorch/examples vae/main.py, with the latent size as a parameter."""

    def __init__(self, z=20):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, z)
        self.fc22 = nn.Linear(400, z)
        self.fc3 = nn.Linear(z, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def logits(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def decode(self, z):
        return torch.sigmoid(self.logits(z))

    def negative_elbo(self, x, noise):
        return torch_models.gaussian_negative_elbo(self, x, noise)

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def read_images(path):
    raw = open(path, "rb").read()
    assert raw[:4] == bytes([0, 0, 8, 3]), "not an IDX3 ubyte file"
    count, rows, columns = (int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows * columns)
    return torch.from_numpy(pixels.astype(np.float32) / 255)


def write_evaluation(model, x, z, stem, deterministic=False, noise_rows=None):
    """The test MSE with the deterministic code, and 5 fixed codes decoded, as the Swift test reads them; for a model
    with an ELBO also the fixed reparameterisation noise [noise_rows, latent] and the mean negative ELBO with it."""
    result = {}
    with torch.no_grad():
        code = model.encode(x) if deterministic else model.encode(x)[0]
        difference = (x - model.decode(code)).double()
        result["mse"] = float((difference ** 2).sum() / difference.numel())
        codes = torch.linspace(-2, 2, 5 * z, dtype=torch.float32).reshape(5, z)
        decoded = model.decode(codes)
        if noise_rows is not None:
            noise = torch.randn(noise_rows, z, generator=torch.Generator().manual_seed(7))
            result["negative_elbo"] = float(model.negative_elbo(x, noise).mean())
            np.save(stem + ".noise.npy", noise.numpy())
    with open(stem + ".json", "w") as f:
        json.dump(result, f)
    np.save(stem + ".codes.npy", codes.numpy())
    np.save(stem + ".decoded.npy", decoded.numpy())


def save_all_formats(model, stem):
    """model.state_dict() by torch.save (zip and legacy) and by safetensors."""
    sd = model.state_dict()
    torch.save(sd, stem + ".zip.pt")
    torch.save(sd, stem + ".legacy.pt", _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in sd.items()}, stem + ".safetensors")


def main(out, images_path):
    os.makedirs(out, exist_ok=True)
    x = read_images(images_path)
    for z in (20, 40):
        torch.manual_seed(z)
        model = VAE(z)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(3):
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            loss = F.binary_cross_entropy(recon, x, reduction="sum") - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss.backward()
            optimizer.step()
        stem = os.path.join(out, f"vae_z{z}")
        sd = model.state_dict()
        save_all_formats(model, stem)
        write_evaluation(model, x, z, stem, noise_rows=len(x))
        if z == 20:
            broken = dict(sd)
            del broken["fc4.bias"]
            broken["fc5.weight"] = torch.zeros(3, 3)
            broken["fc1.weight"] = sd["fc1.weight"].t()
            broken["fc21.bias"] = sd["fc21.bias"].double()
            torch.save(broken, os.path.join(out, "broken.pt"))
    for name, make, deterministic in (("res", lambda: torch_models.MLPVAE(20, residual_blocks=2), False),
                                      ("conv", lambda: torch_models.ConvVAE(20), False),
                                      ("wae", lambda: torch_models.WAE(20), True)):
        torch.manual_seed(5)
        model = make()
        stem = os.path.join(out, name)
        torch.save(model.state_dict(), stem + ".zip.pt")
        write_evaluation(model, x, 20, stem, deterministic, noise_rows=None if deterministic else len(x))
    # The batch-norm MLP: a few training-mode passes move its running estimates away from (0, 1), then evaluation mode.
    torch.manual_seed(6)
    model = torch_models.MLPVAE(20, batch_norm=True)
    with torch.no_grad():
        for start in range(0, len(x), 32):
            model.decode(model.encode(x[start:start + 32])[0])
    model.eval()
    torch.save(model.state_dict(), os.path.join(out, "bn.zip.pt"))
    write_evaluation(model, x, 20, os.path.join(out, "bn"), noise_rows=len(x))
    # GM-VAE with seeded weights, prior means spread out so that q(y|x) and the KLs differ between components.
    torch.manual_seed(8)
    model = torch_models.GMVAE(20, k=10)
    with torch.no_grad():
        model.prior.means.normal_(0, 1)
        model.prior.log_variances.uniform_(-0.5, 0.5)
    save_all_formats(model, os.path.join(out, "gm"))
    write_evaluation(model, x, 20, os.path.join(out, "gm"), noise_rows=10 * len(x))
    # VQ-VAE: a codebook drawn around the encoder outputs (each row's nearest code clear of the second nearest), EMA
    # statistics and a per-position prior that are not their initial values.
    torch.manual_seed(9)
    model = torch_models.VQVAE(16, k=128)
    with torch.no_grad():
        rows = model.encoder_outputs(x)
        q = model.quantizer
        q.codebook.copy_(rows.mean(0) + 2 * rows.std(0) * torch.randn(128, 16))
        q.cluster_size.uniform_(1, 20)
        q.embedding_sum.copy_(q.codebook * q.cluster_size[:, None])
        model.prior.probabilities.copy_(torch.softmax(torch.randn(49, 128), dim=1))
        distances = ((rows.double()[:, None, :] - q.codebook.double()[None]) ** 2).sum(-1).sort(1).values
        assert float(((distances[:, 1] - distances[:, 0]) / distances[:, 1]).min()) > 1e-4, "a code is nearly tied"
    save_all_formats(model, os.path.join(out, "vq"))
    write_evaluation(model, x, 49 * 16, os.path.join(out, "vq"), deterministic=True)
    print("OK")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
