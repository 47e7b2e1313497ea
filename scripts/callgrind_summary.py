#!/usr/bin/env python3
"""Instruction profile of a few training steps from callgrind output files (see notebooks-md/performance.md,
section "Instruction profile (callgrind)"). Usage: callgrind_summary.py BEFORE[,PART2] AFTER[,PART2]
Parts of one run (from callgrind_control -d) are given comma-separated: later parts reuse the first part's name ids."""
import re, sys
from collections import defaultdict
def parse(paths):
    names = {}
    excl = defaultdict(int); incl_calls = defaultdict(int)
    total = 0
    for path in paths:
        fn = None; after_call = False
        for line in open(path, errors='replace'):
            line = line.rstrip('\n')
            if not line or line[0] == '#': continue
            m = re.match(r'^(fn|cfn|cfi|cfl|fl|fi|fe|ob|cob)=\((\d+)\)(?: (.*))?$', line)
            if m:
                kind, ident, name = m.groups()
                key = ('fn' if kind in ('fn', 'cfn') else 'file', ident) if kind in ('fn', 'cfn') else None
                if key is not None:
                    if name is not None: names[key] = name
                    if kind == 'fn': fn = names.get(key, ident)
                continue
            if line.startswith('calls='): after_call = True; continue
            if line[0] in '0123456789+-*':
                parts = line.split()
                if len(parts) < 2: continue
                cost = int(parts[1])
                if after_call: incl_calls[fn] += cost; after_call = False
                else: excl[fn] += cost; total += cost
    incl = {f: excl.get(f, 0) + incl_calls.get(f, 0) for f in set(excl) | set(incl_calls)}
    return total, excl, incl
CATS = [
 ('checkpoint write (SHA-256 of the file; once per epoch)', lambda f: any(k in f for k in ('SHA256', 'SafeTensors', 'Checkpoint', 'JSON'))),
 ('sgemm (OpenBLAS kernels + packing)', lambda f: f.startswith('sgemm') or 'gemm_' in f or 'blas' in f.lower()),
 ('BCE with logits (glibc log1pf/expf + loss loop)', lambda f: f in ('__log1pf', '__expf_fma', 'expf', 'log1pf') or 'binaryCrossEntropy' in f or 'VectorMath' in f and 'allFinite' not in f),
 ('memset / memcpy (zero-filled new arrays, copies)', lambda f: 'memset' in f or 'memmove' in f or 'memcpy' in f),
 ('conv2d (im2col, col2im, bias, layout gathers)', lambda f: 'conv2d' in f and 'Transpose' not in f),
 ('convTranspose2d (col2im, im2col, bias)', lambda f: 'convTranspose2d' in f),
 ('Adam update', lambda f: 'Adam' in f),
 ('finiteness check after each step', lambda f: 'checkFinite' in f or 'allFinite' in f),
 ('linear (bias broadcast, bias gradient)', lambda f: 'linear_6weight' in f),
 ('element-wise ops (relu, +, *, reparameterize, KL)', lambda f: any(k in f for k in ('mapElements', 'relu', 'ACACtFZ', 'reparameterize', 'klDivergence', 'squaredError'))),
 ('malloc / free / Swift runtime', lambda f: any(k in f for k in ('malloc', 'free', 'swift_', '_int_', 'cfree'))),
]
def table(paths):
    total, excl, incl = parse(paths)
    agg = {c: 0 for c, _ in CATS}; other = []
    for f, n in excl.items():
        for c, pred in CATS:
            if pred(f): agg[c] += n; break
        else: other.append((n, f))
    return total, agg, sorted(other, reverse=True)
INCL = [('Tensor.binaryCrossEntropy (forward, incl.)', '$s8Autodiff6TensorC18binaryCrossEntropy6logits7targetsA2C_ACtFZ'),
        ('Adam.update (incl.)', '$s10Optimizers4AdamC6updateyyF'),
        ('model loss = forward pass (incl.)', 'GaussianVAEPAAE4loss'),
        ('Tensor.backward (incl.)', '$s8Autodiff6TensorC8backwardyyF')]
def summary(paths):
    total, excl, incl = parse(paths)
    agg = {c: 0 for c, _ in CATS}; other = 0
    for f, n in excl.items():
        for c, pred in CATS:
            if pred(f): agg[c] += n; break
        else: other += n
    agg['other'] = other
    steps = total - agg[CATS[0][0]]
    inc = {}
    for label, key in INCL:
        inc[label] = max([n for f, n in incl.items() if f == key or (key in f and 'TW' not in f and 'Tg5' in f)] + [n for f, n in incl.items() if f == key] + [0])
    return steps, agg, inc
import sys
before = summary(sys.argv[1].split(',')); after = summary(sys.argv[2].split(','))
print('| | before, M Ir | share | after, M Ir | share | change |')
print('|---|---:|---:|---:|---:|---:|')
print('| **training steps, total** | %.1f | 100%% | %.1f | 100%% | %+.1f%% |' % (before[0] / 1e6, after[0] / 1e6, 100 * (after[0] / before[0] - 1)))
for c in list(before[1]):
    if c == CATS[0][0]: continue
    b, a = before[1][c], after[1][c]
    if b == 0 and a == 0: continue
    print('| %s | %.1f | %.1f%% | %.1f | %.1f%% | %s |' % (c, b / 1e6, 100 * b / before[0], a / 1e6, 100 * a / after[0],
          ('%+.0f%%' % (100 * (a / b - 1))) if b else 'n/a'))
for label in before[2]:
    b, a = before[2][label], after[2][label]
    print('| %s | %.1f | %.1f%% | %.1f | %.1f%% | %s |' % (label, b / 1e6, 100 * b / before[0], a / 1e6, 100 * a / after[0],
          ('%+.0f%%' % (100 * (a / b - 1))) if b else 'n/a'))
print('\nCheckpoint write (once per epoch, not in the step total): %.1f M before, %.1f M after.' % (before[1][CATS[0][0]] / 1e6, after[1][CATS[0][0]] / 1e6))
