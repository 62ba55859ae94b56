"""torch 1.13 reference for model/optim_parity_test.go.

Reads DIR/manifest.json (written by the Go test): parameters (initial
values and per-step gradients as raw little-endian float32 files), and
cases (optimizer type + one param group per parameter, per-step LR scale).
For every case it runs torch.optim.SGD / Adam / AdamW or the LARS below for
`steps` steps and writes final parameters and optimizer state to
DIR/out/<case>/. For every clip case it runs clip_grad_norm_ on the step-0
gradients. Writes DIR/out/results.json.
"""
import json
import os
import sys

import numpy as np
import torch
from torch.optim.optimizer import Optimizer, required


class LARS(Optimizer):
    """MMSelfSup 0.9.0 LARS (mmselfsup/core/optimizer/optimizers.py),
    written from spec/components.md §7.1."""

    def __init__(self, params, lr=required, momentum=0, weight_decay=0,
                 dampening=0, eta=0.001, nesterov=False, eps=1e-8):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, eta=eta)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError('Nesterov momentum requires a momentum and zero dampening')
        self.eps = eps
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            weight_decay = group['weight_decay']
            momentum = group['momentum']
            dampening = group['dampening']
            eta = group['eta']
            nesterov = group['nesterov']
            lr = group['lr']
            lars_exclude = group.get('lars_exclude', False)
            for p in group['params']:
                if p.grad is None:
                    continue
                d_p = p.grad
                if lars_exclude:
                    local_lr = 1.
                else:
                    weight_norm = torch.norm(p).item()
                    grad_norm = torch.norm(d_p).item()
                    if weight_norm != 0 and grad_norm != 0:
                        local_lr = eta * weight_norm / (grad_norm + weight_decay * weight_norm + self.eps)
                    else:
                        local_lr = 1.
                actual_lr = local_lr * lr
                d_p = d_p.add(p, alpha=weight_decay).mul(actual_lr)
                if momentum != 0:
                    state = self.state[p]
                    if 'momentum_buffer' not in state:
                        buf = state['momentum_buffer'] = torch.clone(d_p).detach()
                    else:
                        buf = state['momentum_buffer']
                        buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
                    if nesterov:
                        d_p = d_p.add(buf, alpha=momentum)
                    else:
                        d_p = buf
                p.add_(-d_p)


def load(d, name, shape):
    a = np.fromfile(os.path.join(d, name), dtype='<f4').reshape(shape)
    return torch.from_numpy(a.copy())


def save(d, name, t):
    t.detach().numpy().astype('<f4').tofile(os.path.join(d, name))


def build(case, params):
    groups = []
    for g in case['groups']:
        grp = {'params': [params[g['param']]], 'lr': g['lr'], 'weight_decay': g['weight_decay']}
        if case['type'] in ('SGD', 'LARS'):
            grp.update(momentum=g['momentum'], dampening=g['dampening'], nesterov=g['nesterov'])
        if case['type'] == 'LARS':
            grp.update(eta=g['eta'])
            if g['lars_exclude']:
                grp['lars_exclude'] = True
        if case['type'] in ('Adam', 'AdamW'):
            grp.update(betas=tuple(g['betas']), eps=g['eps'], amsgrad=g['amsgrad'])
        groups.append(grp)
    if case['type'] == 'SGD':
        return torch.optim.SGD(groups, lr=0.1)
    if case['type'] == 'Adam':
        return torch.optim.Adam(groups)
    if case['type'] == 'AdamW':
        return torch.optim.AdamW(groups)
    return LARS(groups, lr=0.1, eps=case['lars_eps'])


def main(d):
    m = json.load(open(os.path.join(d, 'manifest.json')))
    torch.set_num_threads(1)
    results = {'cases': {}, 'clip': []}
    for case in m['cases']:
        params = []
        for p in m['params']:
            t = load(d, p['file'], p['shape'])
            params.append(torch.nn.Parameter(t, requires_grad=p['requires_grad']))
        opt = build(case, params)
        initial = [g['lr'] for g in opt.param_groups]
        for k in range(m['steps']):
            opt.zero_grad()
            for g, lr in zip(opt.param_groups, initial):
                g['lr'] = lr * case['lr_scale'][k]
            for p, meta in zip(params, m['params']):
                if meta['grads']:
                    p.grad = load(d, meta['grads'][k], meta['shape'])
            opt.step()
        out = os.path.join(d, 'out', case['name'])
        os.makedirs(out, exist_ok=True)
        keys = []
        for i, p in enumerate(params):
            save(out, f'p{i}.bin', p)
            st = opt.state.get(p, {})
            ks = []
            for k, v in st.items():
                if v is None:  # SGD without momentum stores momentum_buffer=None
                    continue
                if k == 'step':
                    ks.append(['step', float(v)])
                    continue
                save(out, f's{i}_{k}.bin', v)
                ks.append([k, None])
            keys.append(ks)
        results['cases'][case['name']] = keys
    for c in m['clip']:
        grads = []
        params = []
        for p in m['params']:
            t = torch.nn.Parameter(load(d, p['file'], p['shape']))
            if p['grads']:
                t.grad = load(d, p['grads'][0], p['shape'])
                grads.append(t)
            params.append(t)
        total = torch.nn.utils.clip_grad_norm_(params, c['max_norm'], norm_type=float(c['norm_type']))
        out = os.path.join(d, 'out', 'clip_%d' % len(results['clip']))
        os.makedirs(out, exist_ok=True)
        for i, p in enumerate(params):
            if p.grad is not None:
                save(out, f'g{i}.bin', p.grad)
        results['clip'].append(float(total))
    json.dump(results, open(os.path.join(d, 'out', 'results.json'), 'w'))


if __name__ == '__main__':
    main(sys.argv[1])
