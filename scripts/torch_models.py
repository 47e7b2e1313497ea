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
    GMVAE(z=20, k=10)                 gm_vae (q(y|x), q(z|x,y), the mixture prior as `prior.means`, `prior.log_variances`)
    VQVAE(d=16, k=128)                vq_vae (submodules encoder, decoder, quantizer, prior: the toolkit's full names;
                                      the codebook and its EMA statistics are buffers)

`negative_elbo(x, noise)` (MLPVAE, ConvVAE, GMVAE) is the toolkit's per-image negative ELBO with the reparameterisation
noise given: [B, z] for the Gaussian VAEs, [K * B, z] for GMVAE (row y * B + b: image b, component y). WAE and VQVAE
define no ELBO.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def bernoulli_nll(logits, x):
    """-log p(x|z) of a Bernoulli decoder per row, summed over pixels, in float64: [..., 784] -> [...]."""
    return F.binary_cross_entropy_with_logits(logits.double(), x.double().expand_as(logits), reduction="none").sum(-1)


def gaussian_negative_elbo(model, x, noise):
    """BCE(x, logits(mu + e^(lv/2) noise)) + KL(N(mu, e^lv) || N(0, I)) per image (float64): the toolkit's GaussianVAE."""
    mean, log_variance = model.encode(x)
    z = mean + torch.exp(0.5 * log_variance) * noise
    m, lv = mean.double(), log_variance.double()
    kl = -0.5 * (1 + lv - m ** 2 - lv.exp()).sum(1)
    return bernoulli_nll(model.logits(z), x) + kl


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

    def negative_elbo(self, x, noise):
        return gaussian_negative_elbo(self, x, noise)


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

    def negative_elbo(self, x, noise):
        return gaussian_negative_elbo(self, x, noise)


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


class MixturePrior(nn.Module):
    """p(z|y) = N(means[y], diag(exp(log_variances[y]))), both [K, z]; means start ~ N(0, 0.1^2) as the toolkit's."""

    def __init__(self, k, z):
        super().__init__()
        self.means = nn.Parameter(0.1 * torch.randn(k, z))
        self.log_variances = nn.Parameter(torch.zeros(k, z))


class GMVAE(nn.Module):
    """q(y|x): qy_fc1 (784 -> 400) ReLU -> qy_fc2 (400 -> K) -> softmax. q(z|x,y): ReLU(fc1(x) + fc1_y(onehot(y))) ->
    fc21 (mean), fc22 (log-variance); fc1_y is a bias-free Linear(K, 400), so fc1 and fc1_y together are one
    Linear(784 + K, 400) on [x, onehot(y)]. p(x|z): fc3 (z -> 400) ReLU -> fc4 -> sigmoid. p(y) uniform, p(z|y) `prior`.
    encode(x) gives q(z|x, y*) with y* = argmax_y q(y|x), as the toolkit reconstructs."""

    def __init__(self, z=20, k=10):
        super().__init__()
        self.qy_fc1, self.qy_fc2 = nn.Linear(784, 400), nn.Linear(400, k)
        self.fc1, self.fc1_y = nn.Linear(784, 400), nn.Linear(k, 400, bias=False)
        self.fc21, self.fc22 = nn.Linear(400, z), nn.Linear(400, z)
        self.fc3, self.fc4 = nn.Linear(z, 400), nn.Linear(400, 784)
        self.prior = MixturePrior(k, z)
        self.k = k

    def qy_logits(self, x):
        return self.qy_fc2(F.relu(self.qy_fc1(x)))

    def component_posteriors(self, x):
        """Mean and log-variance of q(z|x,y) for every y: [K, B, z] each."""
        h = F.relu(self.fc1(x)[None] + self.fc1_y.weight.t()[:, None, :])
        return self.fc21(h), self.fc22(h)

    def encode(self, x):
        y = self.qy_logits(x).argmax(1)
        h = F.relu(self.fc1(x) + self.fc1_y.weight.t()[y])
        return self.fc21(h), self.fc22(h)

    def logits(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def decode(self, z):
        return torch.sigmoid(self.logits(z))

    def negative_elbo(self, x, noise):
        """sum_y q(y|x) [BCE(x, logits(z_y)) + KL(q(z|x,y) || p(z|y))] + KL(q(y|x) || Uniform(K)) per image (float64),
        z_y = mean_y + e^(lv_y/2) noise[y * B + b]."""
        batch = x.shape[0]
        mean, log_variance = self.component_posteriors(x)
        z = mean + torch.exp(0.5 * log_variance) * noise.view(self.k, batch, -1)
        m, lv = mean.double(), log_variance.double()
        pm, plv = self.prior.means.double()[:, None, :], self.prior.log_variances.double()[:, None, :]
        kl = 0.5 * (plv - lv + (lv.exp() + (m - pm) ** 2) / plv.exp() - 1).sum(-1)      # [K, B]
        log_q = F.log_softmax(self.qy_logits(x).double(), dim=1).t()                     # [K, B]
        return (log_q.exp() * (log_q + bernoulli_nll(self.logits(z), x) + kl)).sum(0) + math.log(self.k)


class VQEncoder(nn.Module):
    """conv1 (1 -> 32, k4 s2 p1) ReLU, conv2 (32 -> 64, k4 s2 p1) ReLU, conv3 (64 -> D, k1): [B, D, 7, 7]."""

    def __init__(self, d):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 4, 2, 1), nn.Conv2d(32, 64, 4, 2, 1)
        self.conv3 = nn.Conv2d(64, d, 1)

    def forward(self, x):
        return self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))


class VQDecoder(nn.Module):
    """conv1 (D -> 64, k3 s1 p1) ReLU, deconv1 (64 -> 32, k4 s2 p1) ReLU, deconv2 (32 -> 1, k4 s2 p1): logits."""

    def __init__(self, d):
        super().__init__()
        self.conv1 = nn.Conv2d(d, 64, 3, 1, 1)
        self.deconv1, self.deconv2 = nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def forward(self, grid):
        return self.deconv2(F.relu(self.deconv1(F.relu(self.conv1(grid)))))


class EMACodebook(nn.Module):
    """Buffers: codebook e [K, D], EMA cluster sizes [K], EMA code sums [K, D] (the toolkit updates them by exponential
    moving averages, Sources/Models/VQVAE.swift; a training loop here must do the same or leave them as they are)."""

    def __init__(self, k, d):
        super().__init__()
        self.register_buffer("codebook", torch.randn(k, d))
        self.register_buffer("cluster_size", torch.zeros(k))
        self.register_buffer("embedding_sum", self.codebook.clone())

    def nearest(self, rows):
        """Index of the nearest code (squared Euclidean distance, first on ties) of each row of [N, D]."""
        e = self.codebook
        return ((e * e).sum(1)[None] - 2 * rows @ e.t()).argmin(1)


class PerPositionPrior(nn.Module):
    """Buffer probabilities [49, K]: independent categorical code distributions per grid position (sampling only)."""

    def __init__(self, k, positions=49):
        super().__init__()
        self.register_buffer("probabilities", torch.full((positions, k), 1.0 / k))


class VQVAE(nn.Module):
    """x -> encoder -> z_e [B, D, 7, 7] -> rows [B * 49, D] (position-major) -> nearest code -> decoder -> sigmoid.
    encode(x) gives the quantised vectors flattened position by position, [B, 49 * D]; decode takes the same."""

    def __init__(self, d=16, k=128):
        super().__init__()
        self.encoder, self.decoder = VQEncoder(d), VQDecoder(d)
        self.quantizer, self.prior = EMACodebook(k, d), PerPositionPrior(k)
        self.d = d

    def encoder_outputs(self, x):
        z = self.encoder(x.view(-1, 1, 28, 28))
        return z.permute(0, 2, 3, 1).reshape(-1, self.d)

    def encode(self, x):
        rows = self.encoder_outputs(x)
        return self.quantizer.codebook[self.quantizer.nearest(rows)].reshape(x.shape[0], -1)

    def logits(self, codes):
        grid = codes.reshape(codes.shape[0], 7, 7, self.d).permute(0, 3, 1, 2)
        return self.decoder(grid).reshape(codes.shape[0], 784)

    def decode(self, codes):
        return torch.sigmoid(self.logits(codes))
