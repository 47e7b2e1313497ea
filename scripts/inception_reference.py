#!/usr/bin/env python3
"""pytorch-fid 0.3.0's own Inception-v3 on seeded random weights: parity fixtures and timing.

Run with scripts/torch-python (Debian's torch 1.13 + pytorch-fid 0.3.0 + safetensors, installed by
`scripts/install-deps --torch`). The published weights cannot be downloaded here, so the network is
pytorch-fid's `InceptionV3` with `pytorch_fid.inception.fid_inception_v3` replaced (InceptionV3.__init__
looks it up at call time) by `random_fid_inception_v3`: the same modules, built the same way, without the
`load_state_dict_from_url` line; then seeded random weights, and batch-norm running statistics set from one
pass over a few images, plus a floor on the variances (so every layer's activations stay of order 1, as with
trained weights, and no near-constant channel amplifies float32 rounding: see `calibrate`).

    inception_reference.py parity OUT [--seed S] [--first N] [--second N]
        writes into the folder OUT:
          weights.safetensors   the state dict with the published file's key names (Conv2d_1a_3x3.conv.weight,
                                ..., Mixed_7c.branch_pool.bn.running_var, fc.weight, fc.bias), float32
          images.bin            "IMAGES01", int32 count, height, width, then count*h*w uint8 grey pixels
                                (MNIST-like strokes drawn here: set A, then set B)
          features.bin          "FEATURE1", int32 count, dim, then count*dim float32: pytorch-fid's pool3
                                features of every image (its forward on [N, 3, 28, 28] = grey/255 repeated)
          reference.json        {"first": nA, "second": nB, "fid": calculate_frechet_distance of the two sets'
                                mu/sigma as pytorch-fid computes them, "used_eps": ..., "sensitivity": {...}}
    inception_reference.py time --threads 1,2 [--images N] [--batch B]
        prints one JSON line per thread count: images/s of pytorch-fid's model (random weights, no grad, eval mode,
        pytorch-fid's default batch of 50 grey 28 x 28 images as [B, 3, 28, 28]).
"""
import argparse, json, os, struct, sys, time

import numpy as np
import torch
import torch.nn.functional as F
import pytorch_fid.inception as fid_inception
from pytorch_fid.fid_score import calculate_frechet_distance


def random_fid_inception_v3():
    """fid_inception_v3 without the download: torchvision's trunk with pytorch-fid's patched blocks."""
    inception = fid_inception._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    inception.Mixed_5b = fid_inception.FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = fid_inception.FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = fid_inception.FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = fid_inception.FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = fid_inception.FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = fid_inception.FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = fid_inception.FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = fid_inception.FIDInceptionE_1(1280)
    inception.Mixed_7c = fid_inception.FIDInceptionE_2(2048)
    return inception


def build(seed):
    """pytorch-fid's InceptionV3 (2048-d pool3 output) on seeded random weights, and the trunk it wraps."""
    torch.manual_seed(seed)
    holder = {}

    def capture():
        holder["trunk"] = random_fid_inception_v3()
        return holder["trunk"]

    original = fid_inception.fid_inception_v3
    fid_inception.fid_inception_v3 = capture
    try:
        model = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    finally:
        fid_inception.fid_inception_v3 = original
    trunk = holder["trunk"]
    with torch.no_grad():
        for m in trunk.modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0, (2.0 / fan_in) ** 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
        trunk.fc.weight.normal_(0, 0.02)
        trunk.fc.bias.zero_()
    return model, trunk


def calibrate(model, images, variance_floor=0.1):
    """Batch-norm running statistics = the batch statistics of one pass over `images` (cumulative average), plus
    `variance_floor` on every running variance: a channel that barely varies on a few digits would otherwise get a
    gain of up to 1/sqrt(eps) and amplify float32 rounding (without the floor, torch's own float32 features differ
    from its float64 ones by 1.5e-4 relative; with it by 7e-6), while activations stay of order 1."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(images)
    model.eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
            with torch.no_grad():
                m.running_var += variance_floor


def strokes(rng, count, thickness):
    """`count` MNIST-like 28 x 28 uint8 images: a few random bright strokes of the given thickness on black."""
    images = np.zeros((count, 28, 28), dtype=np.float64)
    yy, xx = np.mgrid[0:28, 0:28]
    for i in range(count):
        for _ in range(rng.integers(1, 4)):
            (x0, y0), (x1, y1) = rng.uniform(5, 23, size=(2, 2))
            t = np.clip(((xx - x0) * (x1 - x0) + (yy - y0) * (y1 - y0)) / max((x1 - x0) ** 2 + (y1 - y0) ** 2, 1e-9), 0, 1)
            distance = np.hypot(xx - (x0 + t * (x1 - x0)), yy - (y0 + t * (y1 - y0)))
            images[i] = np.maximum(images[i], np.clip(thickness - distance, 0, 1))
    return np.round(255 * images).astype(np.uint8)


def as_input(images):
    """What pytorch-fid feeds its model for grey PNGs: convert('RGB') (grey repeated), ToTensor (/255)."""
    x = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)
    return x.repeat(1, 3, 1, 1)


def features(model, images, batch=50):
    with torch.no_grad():
        parts = [model(as_input(images[s:s + batch]))[0].squeeze(3).squeeze(2) for s in range(0, len(images), batch)]
    return torch.cat(parts).numpy().astype(np.float32)


def statistics(f):
    f = f.astype(np.float64)
    return np.mean(f, axis=0), np.cov(f, rowvar=False)


def sensitivity(model, trunk, images, reference):
    """Relative change of the features (max |diff| / max |ref|) under each plausible mistake."""
    out = {}

    def relative(changed):
        return float(np.max(np.abs(changed - reference)) / np.max(np.abs(reference)))

    original_avg = F.avg_pool2d
    # count_include_pad=True in the FID blocks' average pools.
    fid_inception.F.avg_pool2d = lambda x, kernel_size, stride, padding, count_include_pad=True: original_avg(
        x, kernel_size=kernel_size, stride=stride, padding=padding, count_include_pad=True)
    out["count_include_pad=True"] = relative(features(model, images))
    fid_inception.F.avg_pool2d = original_avg
    # Average instead of max pool in Mixed_7c's pool branch.
    original_max = F.max_pool2d

    def average_in_7c(x, kernel_size, stride=None, padding=0, *rest, **options):
        if stride == 1 and padding == 1:  # only Mixed_7c's pool branch pools with stride 1
            return original_avg(x, kernel_size=kernel_size, stride=1, padding=1, count_include_pad=False)
        return original_max(x, kernel_size, stride, padding, *rest, **options)
    fid_inception.F.max_pool2d = average_in_7c
    out["avg pool in Mixed_7c"] = relative(features(model, images))
    fid_inception.F.max_pool2d = original_max
    # Batch-norm eps 1e-5 instead of 1e-3.
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns: m.eps = 1e-5
    out["batch-norm eps 1e-5"] = relative(features(model, images))
    for m in bns: m.eps = 1e-3
    # The resize: align_corners=True, bicubic.
    original_interpolate = F.interpolate
    for name, kwargs in [("align_corners=True", dict(mode="bilinear", align_corners=True)),
                         ("bicubic", dict(mode="bicubic", align_corners=False))]:
        fid_inception.F.interpolate = lambda x, size, mode, align_corners, kw=kwargs: original_interpolate(x, size=size, **kw)
        out[name] = relative(features(model, images))
    fid_inception.F.interpolate = original_interpolate
    return out


def write_safetensors(trunk, path):
    from safetensors.numpy import save_file
    state = {k: v.detach().numpy().astype(np.float32) for k, v in trunk.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    save_file(state, path)


def parity(args):
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    model, trunk = build(args.seed)
    rng = np.random.default_rng(args.seed)
    calibrate(model, as_input(np.concatenate([strokes(rng, 8, 1.2), strokes(rng, 8, 2.6)])))
    first, second = strokes(rng, args.first, 1.2), strokes(rng, args.second, 2.6)
    images = np.concatenate([first, second])
    f = features(model, images)
    write_safetensors(trunk, os.path.join(args.out, "weights.safetensors"))
    # The same state dict as the published .pth is: torch.save's legacy pickle stream (as torch 1.x before 1.6 wrote it).
    torch.save(trunk.state_dict(), os.path.join(args.out, "weights.pth"), _use_new_zipfile_serialization=False)
    with open(os.path.join(args.out, "images.bin"), "wb") as h:
        h.write(b"IMAGES01" + struct.pack("<3i", len(images), 28, 28) + images.tobytes())
    with open(os.path.join(args.out, "features.bin"), "wb") as h:
        h.write(b"FEATURE1" + struct.pack("<2i", *f.shape) + f.astype("<f4").tobytes())
    mu1, sigma1 = statistics(f[:args.first])
    mu2, sigma2 = statistics(f[args.first:])
    report = {"first": args.first, "second": args.second,
              "fid": float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2)),
              "trace1": float(np.trace(sigma1)), "trace2": float(np.trace(sigma2)),
              "mean_term": float(np.sum((mu1 - mu2) ** 2))}
    if args.sensitivity:
        report["sensitivity"] = sensitivity(model, trunk, images[:8], f[:8])
    with open(os.path.join(args.out, "reference.json"), "w") as h:
        json.dump(report, h)


def timing(args):
    model, _ = build(0)
    rng = np.random.default_rng(0)
    calibrate(model, as_input(strokes(rng, 16, 2.0)))
    images = as_input(strokes(rng, args.batch, 2.0))
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        with torch.no_grad():
            model(images[:2])  # warm-up
            done, start = 0, time.perf_counter()
            while done < args.images:
                model(images)
                done += len(images)
            seconds = time.perf_counter() - start
        print(json.dumps({"threads": threads, "images": done, "seconds": seconds, "images_per_second": done / seconds,
                          "torch": torch.__version__}), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("parity")
    a.add_argument("out")
    a.add_argument("--seed", type=int, default=17)
    a.add_argument("--first", type=int, default=24)
    a.add_argument("--second", type=int, default=24)
    a.add_argument("--sensitivity", action="store_true")
    t = sub.add_parser("time")
    t.add_argument("--threads", default="1,2")
    t.add_argument("--images", type=int, default=100)
    t.add_argument("--batch", type=int, default=50)
    args = p.parse_args()
    parity(args) if args.command == "parity" else timing(args)


if __name__ == "__main__":
    sys.exit(main())
