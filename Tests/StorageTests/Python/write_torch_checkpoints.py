#!/usr/bin/env python3
"""Writes PyTorch checkpoints with torch.save for the Swift state-dict reader (StateDictTests.swift).

Usage (through scripts/torch-python, which provides torch and safetensors):
    write_torch_checkpoints.py OUT_DIR     the test files below
    write_torch_checkpoints.py --seeds DIR tiny files for the fuzz target's seed corpus (fuzz/corpus/statedict)

OUT_DIR receives
    state.zip.pt, state.legacy.pt          a state dict with the key names of pytorch-fid's Inception weights
                                           (Conv2d_1a_3x3.conv.weight, ...bn.running_mean, ...num_batches_tracked,
                                           Mixed_7c.branch_pool.conv.weight, fc.weight) plus a transposed
                                           (non-contiguous) tensor, two views of one storage, float64, float16,
                                           bfloat16, int32, uint8, bool, an empty tensor and a scalar;
                                           torch.save in the zip format and with _use_new_zipfile_serialization=False
    state.zip-p4.pt, state.legacy-p4.pt    the same with pickle_protocol=4
    wrapped.zip.pt, wrapped.legacy.pt      {"state_dict": ..., "epoch": 3, "optimizer": Adam's state dict}
    module.zip.pt, module.legacy.pt        torch.save(model): a pickled nn.Module, which the reader refuses
    tensor.zip.pt                          torch.save(tensor): not a state dict
    expected.safetensors                   every tensor of the state dict, contiguous, by safetensors.torch
Prints OK.
"""
import collections
import os
import sys

import torch
from safetensors.torch import save_file


class BasicConv2d(torch.nn.Module):
    """pytorch-fid / torchvision's conv + batch norm pair, so the keys read `<block>.conv.weight`, `<block>.bn.*`."""

    def __init__(self, cin, cout, k):
        super().__init__()
        self.conv = torch.nn.Conv2d(cin, cout, k, bias=False)
        self.bn = torch.nn.BatchNorm2d(cout, eps=0.001)


class Mixed7c(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.branch_pool = BasicConv2d(4, 2, 1)


class TinyInception(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 4, 3)
        self.Mixed_7c = Mixed7c()
        self.fc = torch.nn.Linear(8, 5)


def model():
    torch.manual_seed(17)
    net = TinyInception()
    with torch.no_grad():
        for bn in (net.Conv2d_1a_3x3.bn, net.Mixed_7c.branch_pool.bn):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.num_batches_tracked.fill_(1234567890123)
    return net


def state_dict(net):
    sd = net.state_dict()  # an OrderedDict with a _metadata attribute, as model.state_dict() returns
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.25 - 2
    sd["extra.transposed"] = base.t()                   # non-contiguous: stride (1, 6)
    sd["extra.column"] = base[:, 3]                      # offset 3, stride (6,)
    shared = torch.linspace(-1, 1, 10)
    sd["extra.shared_head"] = shared[:4]                 # two views of one storage
    sd["extra.shared_tail"] = shared[6:].view(2, 2)      # storage offset 6
    sd["extra.float64"] = torch.tensor([1 / 3, -2.5, 1e-300, 3.141592653589793], dtype=torch.float64)
    sd["extra.float16"] = torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16)
    sd["extra.bfloat16"] = torch.tensor([1.5, -3.0], dtype=torch.bfloat16)
    sd["extra.int32"] = torch.tensor([[-7, 0], [2**31 - 1, -(2**31)]], dtype=torch.int32)
    sd["extra.uint8"] = torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8)
    sd["extra.bool"] = torch.tensor([True, False, True])
    sd["extra.empty"] = torch.zeros(0, 3)
    sd["extra.scalar"] = torch.tensor(42.5)
    return sd


def write_tests(out):
    os.makedirs(out, exist_ok=True)
    net = model()
    sd = state_dict(net)
    for protocol, suffix in ((2, ""), (4, "-p4")):
        torch.save(sd, os.path.join(out, f"state.zip{suffix}.pt"), pickle_protocol=protocol)
        torch.save(sd, os.path.join(out, f"state.legacy{suffix}.pt"), pickle_protocol=protocol,
                   _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous().clone() for k, v in sd.items()}, os.path.join(out, "expected.safetensors"))

    # A second copy takes the optimizer step: the state dict's tensors share storage with `net`'s parameters.
    trained = model()
    optimizer = torch.optim.Adam(trained.parameters(), lr=1e-3)
    loss = trained.fc(torch.ones(2, 8)).sum()
    loss.backward()
    optimizer.step()
    wrapped = {"state_dict": sd, "epoch": 3, "optimizer": optimizer.state_dict(), "note": "wrapped", "best": 0.25}
    torch.save(wrapped, os.path.join(out, "wrapped.zip.pt"))
    torch.save(wrapped, os.path.join(out, "wrapped.legacy.pt"), _use_new_zipfile_serialization=False)

    torch.save(net, os.path.join(out, "module.zip.pt"))
    torch.save(net, os.path.join(out, "module.legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(torch.ones(3), os.path.join(out, "tensor.zip.pt"))


def write_seeds(out):
    """A few hundred bytes to 2 KB each: small enough for libFuzzer's max_len."""
    os.makedirs(out, exist_ok=True)
    small = collections.OrderedDict()
    small["Conv2d_1a_3x3.conv.weight"] = torch.arange(4, dtype=torch.float32).reshape(1, 1, 2, 2)
    small["Conv2d_1a_3x3.bn.num_batches_tracked"] = torch.tensor(7)
    base = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    small["t"] = base.t()
    small["v"] = base[1, 1:]
    seeds = {
        "state.zip": (small, {}),
        "state.legacy": (small, {"_use_new_zipfile_serialization": False}),
        "state-p4.legacy": (small, {"_use_new_zipfile_serialization": False, "pickle_protocol": 4}),
        "wrapped.legacy": ({"state_dict": small, "epoch": 3}, {"_use_new_zipfile_serialization": False}),
        "half-bool.legacy": ({"h": torch.tensor([1.0], dtype=torch.float16), "b": torch.tensor([True])},
                             {"_use_new_zipfile_serialization": False}),
        "empty.legacy": (collections.OrderedDict(), {"_use_new_zipfile_serialization": False}),
    }
    for name, (obj, kwargs) in seeds.items():
        torch.save(obj, os.path.join(out, name), **kwargs)
    save_file({"w": torch.arange(3, dtype=torch.float32)}, os.path.join(out, "tiny.safetensors"))


def main(argv):
    if len(argv) == 3 and argv[1] == "--seeds":
        write_seeds(argv[2])
    elif len(argv) == 2:
        write_tests(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
