#!/usr/bin/env python3
"""PyTorch modules whose state dicts `vae-eval import` reads one to one (notebooks-md/models.md has the table).

Train one of these in PyTorch, `torch.save(model.state_dict(), "m.pt")`, then
`vae-eval import m.pt --model RUN --out out/runs/RUN` and evaluate it like any run of ours. Each module's
`encode(x)` gives what our encoder gives (mean and log-variance, or the WAE's code) for x of shape [B, 784] in [0, 1],
and `decode(z)` the pixel probabilities (`logits(z)` their Bernoulli logits, for the VAEs); the training loss is yours to write (the toolkit's are in Sources/Models).

    MLPVAE(z=20, residual_blocks=0)   vae_std_z20, vae_std_z40, beta_vae_* (pytorch/examples vae/main.py itself when
                                      residual_blocks=0); vae_std_z20_res with residual_blocks=2;
                                      vae_std_z20_bn with batch_norm=True (evaluate after model.eval())
    ConvVAE(z=20)                     vae_conv
    WAE(z=20)                         wae

GM-VAE and VQ-VAE modules are not here yet: their state dicts import when they use the toolkit's names.
"""
import torch
import torch.nn.functional as F
from torch import nn


class MLPVAE(nn.Module):
    """fc1 (784 -> 400) [BN] ReLU [-> h + ReLU(res_k(h))] -> fc21 (mean), fc22 (log-variance); fc3 [BN] ReLU -> fc4 ->
    sigmoid. With batch_norm=True, BatchNorm1d(400) as fc1_bn and fc3_bn (vae_std_z20_bn)."""

    def __init__(self, z=20, residual_blocks=0, batch_norm=False):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        if batch_norm:
            self.fc1_bn = nn.BatchNorm1d(400)
        for k in range(residual_blocks):
            setattr(self, f"res{k + 1}", nn.Linear(400, 400))
        self.residual_blocks = residual_blocks
        self.fc21, self.fc22 = nn.Linear(400, z), nn.Linear(400, z)
        self.fc3 = nn.Linear(z, 400)
        if batch_norm:
            self.fc3_bn = nn.BatchNorm1d(400)
        self.fc4 = nn.Linear(400, 784)
        self.batch_norm = batch_norm

    def encode(self, x):
        h = self.fc1(x)
        h = F.relu(self.fc1_bn(h) if self.batch_norm else h)
        for k in range(self.residual_blocks):
            h = h + F.relu(getattr(self, f"res{k + 1}")(h))
        return self.fc21(h), self.fc22(h)

    def logits(self, z):
        h = self.fc3(z)
        return self.fc4(F.relu(self.fc3_bn(h) if self.batch_norm else h))

    def decode(self, z):
        return torch.sigmoid(self.logits(z))


class ConvVAE(nn.Module):
    """conv1 (1 -> 32, k4 s2 p1) ReLU, conv2 (32 -> 64) ReLU, flatten 3136 -> fc_mean, fc_logvar;
    fc (z -> 3136) ReLU -> [64, 7, 7] -> deconv1 (64 -> 32) ReLU -> deconv2 (32 -> 1) -> sigmoid."""

    def __init__(self, z=20):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 4, 2, 1), nn.Conv2d(32, 64, 4, 2, 1)
        self.fc_mean, self.fc_logvar = nn.Linear(3136, z), nn.Linear(3136, z)
        self.fc = nn.Linear(z, 3136)
        self.deconv1, self.deconv2 = nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def encode(self, x):
        h = F.relu(self.conv2(F.relu(self.conv1(x.view(-1, 1, 28, 28))))).flatten(1)
        return self.fc_mean(h), self.fc_logvar(h)

    def logits(self, z):
        h = F.relu(self.fc(z)).view(-1, 64, 7, 7)
        return self.deconv2(F.relu(self.deconv1(h))).view(-1, 784)

    def decode(self, z):
        return torch.sigmoid(self.logits(z))


class WAE(nn.Module):
    """Deterministic encoder fc1 (784 -> 400) ReLU -> fc2 (400 -> z); decoder fc3 ReLU -> fc4 -> sigmoid."""

    def __init__(self, z=20):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 400), nn.Linear(400, z)
        self.fc3, self.fc4 = nn.Linear(z, 400), nn.Linear(400, 784)

    def encode(self, x):
        return self.fc2(F.relu(self.fc1(x)))

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))
