"""torch.load's a checkpoint written by checkpoint's Go test and checks every value.

usage: check_load.py CKPT SPEC.json
SPEC.json describes each state_dict tensor: dtype, shape, stride (or null), requires_grad and
its source values ("f32"/"f64" as strings, "i64" as ints), which are converted here with torch's
own .to(dtype) so that the Go conversion (float16/bfloat16 rounding, integer wrap) is checked
bit for bit. The non-tensor fixture below mirrors pythonFixture in python_test.go.
Prints "OK <n> tensors" on success; raises AssertionError otherwise.
"""
import collections
import json
import sys

import torch

ckpt = torch.load(sys.argv[1])  # torch 1.13: weights_only defaults to False
spec = json.load(open(sys.argv[2]))


def raw(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


assert type(ckpt) is dict, type(ckpt)
assert list(ckpt) == ['meta', 'state_dict', 'optimizer', 'author'], list(ckpt)
meta = ckpt['meta']
want_meta = {
    'epoch': 3, 'iter': 1200, 'seed': 0, 'exp_name': 'mocov2_resnet50',
    'hook_msgs': {'last_ckpt': '/work/epoch_3.pth'},
    'lr': 0.03, 'big': 2 ** 70, 'neg': -(2 ** 40), 'min64': -(2 ** 63), 'ok': True, 'none': None,
    'tuple': (1, 'x', 2.5), 'bytes': b'\x00\xffab', 'empty_bytes': b'',
    'unicode': 'h\u00e9llo \u2713', 'list': [1, [2, 3]], 'floats': [0.5, -1.25],
}
assert meta == want_meta, meta
assert list(meta) == list(want_meta), list(meta)
assert type(meta['tuple']) is tuple and type(meta['list']) is list

sd = ckpt['state_dict']
assert type(sd) is collections.OrderedDict, type(sd)
assert list(sd) == list(spec), (list(sd), list(spec))
assert sd._metadata == collections.OrderedDict([('', {'version': 1}), ('bn', {'version': 2})]), sd._metadata
for name, s in spec.items():
    t = sd[name]
    dtype = getattr(torch, s['dtype'])
    assert t.dtype == dtype, (name, t.dtype)
    assert list(t.shape) == s['shape'], (name, t.shape)
    if s['stride'] is not None:
        assert list(t.stride()) == s['stride'], (name, t.stride())
    assert t.requires_grad == s['requires_grad'], name
    if 'f32' in s:
        src = torch.tensor([float(v) for v in s['f32']], dtype=torch.float32)
    elif 'f64' in s:
        src = torch.tensor([float(v) for v in s['f64']], dtype=torch.float64)
    else:
        src = torch.tensor(s['i64'], dtype=torch.int64)
    want = src.to(dtype).reshape(s['shape'])
    assert raw(t) == raw(want), (name, t, want)

opt = ckpt['optimizer']
assert list(opt['state']) == [0, 1], list(opt['state'])
assert torch.equal(opt['state'][0]['momentum_buffer'], torch.tensor([0.5, -0.5]))
assert torch.equal(opt['state'][1]['momentum_buffer'], torch.tensor(2.0))
assert opt['param_groups'] == [{'lr': 0.03, 'momentum': 0.9, 'weight_decay': 0.0001, 'params': [0, 1],
                                 'initial_lr': 0.03}], opt['param_groups']
assert ckpt['author'] == 'flowssl'
print('OK', len(spec), 'tensors')
