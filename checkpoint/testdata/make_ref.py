"""Writes reference checkpoints with torch.save for checkpoint's Python->Go tests.

usage: make_ref.py OUTDIR
Writes OUTDIR/ref_zip.pth (default zip format), OUTDIR/ref_legacy.pth
(_use_new_zipfile_serialization=False) and OUTDIR/ref.txt, one line per tensor:
  T <path> <dtype> <shape|-> <requires_grad 0|1> <sha256 of contiguous bytes>
and for tensors of at most 32 elements
  V <path> <values as Python reprs>
"""
import collections
import hashlib
import os
import sys

import numpy as np
import torch
import torchvision

out = sys.argv[1]
torch.manual_seed(0)
sd = torchvision.models.resnet18().state_dict()

a = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3
obj = {
    'state_dict': sd,
    'views': {
        'base': a,
        'row': a[1],
        'col': a[:, 2],
        't': a.t(),
        'block': a[1:3, 1:4],
        'step': a.view(-1)[3::5],
        'expand': torch.tensor([1.5, -2.0, 3.25]).unsqueeze(0).expand(4, 3),
    },
    'dtypes': {
        'f16': torch.tensor([0.1, -2.5, 65504.0, 6e-8, float('inf')], dtype=torch.float16),
        'bf16': torch.tensor([0.1, -2.5, 3e38, 1e-40], dtype=torch.bfloat16),
        'f64': torch.tensor([[0.1, 1e300], [-5e-324, 2.0]], dtype=torch.float64),
        'i64': torch.tensor([-2**62, 7, 2**62], dtype=torch.int64),
        'i32': torch.tensor([-2**31, 5, 2**31 - 1], dtype=torch.int32),
        'i16': torch.tensor([-32768, 1, 32767], dtype=torch.int16),
        'i8': torch.tensor([-128, 0, 127], dtype=torch.int8),
        'u8': torch.tensor([0, 200, 255], dtype=torch.uint8),
        'bool': torch.tensor([True, False, True]),
    },
    'scalar': torch.tensor(3.5),
    'empty': torch.zeros(0, 3),
    'param': torch.nn.Parameter(torch.full((2,), 0.25)),
    'shared': [a, a],
    'misc': {
        'size': torch.Size([2, 3]),
        'tuple': (1, 'a', None),
        'bytes': b'\x00\xffab',
        'empty_bytes': b'',
        'big': 2 ** 70,
        'neg': -(2 ** 40),
        'float': 0.1,
        'bool': True,
        'list': [1, [2, 3]],
        'intkeys': {0: 'a', 7: 'b'},
        'unicode': 'h\u00e9llo \u2713',
        # MMCV's meta['seed'] is a numpy integer when drawn by np.random.randint.
        'np_i64': np.int64(12345), 'np_f32': np.float32(0.5), 'np_f64': np.float64(-2.5),
        'np_bool': np.bool_(True), 'np_u8': np.uint8(200),
    },
}
torch.save(obj, os.path.join(out, 'ref_zip.pth'))
torch.save(obj, os.path.join(out, 'ref_legacy.pth'), _use_new_zipfile_serialization=False)


def raw(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def walk(v, path):
    if isinstance(v, torch.Tensor):
        yield path, v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from walk(x, f'{path}/{k}' if path else str(k))
    elif isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        for i, x in enumerate(v):
            yield from walk(x, f'{path}/{i}')


with open(os.path.join(out, 'ref.txt'), 'w') as f:
    for path, t in walk(obj, ''):
        dt = str(t.dtype).replace('torch.', '')
        shape = ','.join(str(d) for d in t.shape) or '-'
        f.write(f'T {path} {dt} {shape} {int(t.requires_grad)} {hashlib.sha256(raw(t)).hexdigest()}\n')
        if t.numel() <= 32:
            vals = t.reshape(-1).tolist()
            f.write(f'V {path} ' + ' '.join(repr(float(x)) for x in vals) + '\n')
