"""Checks that checkpoint B (written by Go from what it read of A) holds the same values as A.

usage: compare.py A.pth B.pth
Tensors must match in dtype, shape, requires_grad and bytes (views become contiguous copies;
nn.Parameter becomes a tensor with requires_grad=True); dict/OrderedDict, list/tuple, bytes and
int/float/bool/None types must be kept, and an OrderedDict's _metadata too. torch.Size is
written back as a tuple and numpy scalars as Python numbers. Prints "OK <n> tensors".
"""
import collections
import sys

import numpy as np
import torch

a = torch.load(sys.argv[1])
b = torch.load(sys.argv[2])
count = 0


def raw(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def same(x, y, path):
    global count
    if isinstance(x, torch.Tensor):
        assert isinstance(y, torch.Tensor), path
        assert (x.dtype, x.shape, x.requires_grad) == (y.dtype, y.shape, y.requires_grad), (path, x, y)
        assert raw(x) == raw(y), path
        count += 1
    elif isinstance(x, np.generic):
        assert type(y) is type(x.item()) and y == x.item(), (path, x, y)
    elif isinstance(x, torch.Size):
        assert type(y) is tuple and tuple(x) == y, (path, y)
    elif isinstance(x, dict):
        assert type(x) is type(y), (path, type(x), type(y))
        assert list(x) == list(y), (path, list(x), list(y))
        for k in x:
            same(x[k], y[k], f'{path}/{k}')
        if hasattr(x, '_metadata'):
            assert x._metadata == y._metadata, path
    elif isinstance(x, (list, tuple)):
        assert type(x) is type(y) and len(x) == len(y), (path, type(y))
        for i, (p, q) in enumerate(zip(x, y)):
            same(p, q, f'{path}/{i}')
    else:
        assert type(x) is type(y) and x == y, (path, x, y)


same(a, b, '')
print('OK', count, 'tensors')
