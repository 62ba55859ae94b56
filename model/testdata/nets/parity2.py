"""Runs ref_variants.py's backbones and necks on inputs written by model's
Go tests (resnet_parity2_test.go, neck_parity2_test.go).

usage: parity2.py MANIFEST.json
MANIFEST.json: a list of cases {"kind": "backbone"|"neck", "cfg": {...},
"in": IN.pth, "weights": WEIGHTS.pth, "out": OUT.pth, "keys": KEYS.txt}, run
in one process so torch is imported once.
IN.pth: input.<i> (the inputs), gw.train.<i> / gw.eval.<i> (weights w_i of
the scalar loss sum_i (out_i * w_i).sum() back-propagated in each mode).
WEIGHTS.pth: {'state_dict': ...} under the module's own keys, or - when
the module has no state.
OUT.pth: <mode>.out.<i>, <mode>.grad.<param>, <mode>.grad.input.<i>,
state.<key> (after the train pass), req.<param> (1 = requires_grad).
KEYS.txt: state_dict().keys(), one a line."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_variants as R  # noqa: E402


def run(kind, cfg, inp, weights, out_path, keys_path):
    m = R.ResNet(cfg) if kind == 'backbone' else R.build_neck(cfg)
    with open(keys_path, 'w') as f:
        f.write('\n'.join(m.state_dict().keys()) + '\n')
    if weights != '-':
        m.load_state_dict(torch.load(weights)['state_dict'], strict=True)
    else:
        assert not m.state_dict(), 'the Go side has no state but torch does'
    io = torch.load(inp)
    xs = [io[f'input.{i}'] for i in range(sum(k.startswith('input.') for k in io))]
    res = {}
    for name, p in m.named_parameters():
        res[f'req.{name}'] = torch.tensor(int(p.requires_grad))
    for mode in ('train', 'eval'):
        m.train(mode == 'train')
        m.zero_grad(set_to_none=True)
        x = [t.clone().requires_grad_(True) for t in xs]
        if kind == 'backbone':
            outs = m(x[0])
        elif cfg['type'] == 'SwAVNeck':
            outs = m([(t,) for t in x])
        else:
            outs = m(x)
        loss = sum((o * io[f'gw.{mode}.{i}']).sum() for i, o in enumerate(outs))
        loss.backward()
        for i, o in enumerate(outs):
            res[f'{mode}.out.{i}'] = o.detach().clone()
        for name, p in m.named_parameters():
            if p.grad is not None:
                res[f'{mode}.grad.{name}'] = p.grad.clone()
        for i, t in enumerate(x):
            res[f'{mode}.grad.input.{i}'] = t.grad.clone()
        if mode == 'train':
            for k, v in m.state_dict().items():
                res[f'state.{k}'] = v.clone()
    torch.save(res, out_path)


if __name__ == '__main__':
    with open(sys.argv[1]) as f:
        for c in json.load(f):
            run(c['kind'], c['cfg'], c['in'], c['weights'], c['out'], c['keys'])
