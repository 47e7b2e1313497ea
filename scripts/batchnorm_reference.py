#!/usr/bin/env python3
"""PyTorch reference outputs of nn.BatchNorm1d and nn.BatchNorm2d, for Tests/AutodiffTests/BatchNormTorchTests.swift.

    scripts/torch-python scripts/batchnorm_reference.py fixtures/batchnorm-torch.json

Writes, for each case (BatchNorm1d on [8, 5], BatchNorm2d on [4, 3, 3, 2]; float32; weight and bias set to seeded
random values): three training steps, each with its input, upstream gradient, output, gradients of input, weight
and bias (zeroed before each step), and the running mean, running variance and num_batches_tracked after the step;
then an evaluation-mode output and input gradient on a fourth input. Inputs are seeded (torch.manual_seed) and
have a non-zero mean per channel so that the running estimates move. The committed file is what the test reads;
regenerate it with this script (torch 1.13, Debian's python3-torch).
"""
import json, sys

import torch
import torch.nn as nn


def values(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(name, module, shape, steps=3):
    channels = shape[1]
    with torch.no_grad():
        module.weight.copy_(torch.rand(channels) + 0.5)
        module.bias.copy_(torch.randn(channels))
    offsets = torch.randn(channels).view(1, channels, *([1] * (len(shape) - 2))) * 2
    record = {"name": name, "shape": list(shape), "weight": values(module.weight), "bias": values(module.bias),
              "momentum": module.momentum, "eps": module.eps, "steps": []}
    module.train()
    for _ in range(steps):
        x = (torch.randn(*shape) * 1.5 + offsets).requires_grad_(True)
        g = torch.randn(*shape)
        module.zero_grad()
        y = module(x)
        y.backward(g)
        record["steps"].append({
            "input": values(x), "grad_output": values(g), "output": values(y), "grad_input": values(x.grad),
            "grad_weight": values(module.weight.grad), "grad_bias": values(module.bias.grad),
            "running_mean": values(module.running_mean), "running_var": values(module.running_var),
            "num_batches_tracked": int(module.num_batches_tracked)})
    module.eval()
    x = (torch.randn(*shape) * 1.5 + offsets).requires_grad_(True)
    g = torch.randn(*shape)
    module.zero_grad()
    y = module(x)
    y.backward(g)
    record["evaluation"] = {"input": values(x), "grad_output": values(g), "output": values(y), "grad_input": values(x.grad),
                            "grad_weight": values(module.weight.grad), "grad_bias": values(module.bias.grad)}
    return record


def main():
    torch.manual_seed(24)
    cases = [case("BatchNorm1d", nn.BatchNorm1d(5), (8, 5)), case("BatchNorm2d", nn.BatchNorm2d(3), (4, 3, 3, 2))]
    out = {"torch": torch.__version__, "dtype": "float32", "cases": cases}
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
