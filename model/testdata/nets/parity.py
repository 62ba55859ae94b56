"""Runs the PyTorch references on inputs written by model's Go tests.

usage: parity.py resnet IN.pth WEIGHTS.pth OUT.pth KEYS.txt
       parity.py heads IN.pth OUT.pth
IN.pth is a flat dict of tensors written by the Go test (checkpoint package);
OUT.pth receives the reference results as a flat dict of tensors."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_heads as H  # noqa: E402
from ref_resnet import ResNet  # noqa: E402


def resnet(inp, weights, out_path, keys_path):
    io = torch.load(inp)
    depth = int(io['depth'])
    idx = tuple(int(i) for i in io['out_indices'].tolist())
    m = ResNet(depth, out_indices=idx)
    with open(keys_path, 'w') as f:
        f.write('\n'.join(m.state_dict().keys()) + '\n')
    sd = torch.load(weights)['state_dict']
    m.load_state_dict(sd, strict=True)
    x = io['input']
    res = {}
    m.train()
    with torch.no_grad():
        for i, o in enumerate(m(x)):
            res[f'train.{i}'] = o
    for k, v in m.state_dict().items():
        res[f'state.{k}'] = v
    m.eval()
    with torch.no_grad():
        for i, o in enumerate(m(x)):
            res[f'eval.{i}'] = o
    torch.save(res, out_path)


def heads(inp, out_path):
    d = torch.load(inp)
    r = {}
    r['contrastive.loss'] = H.contrastive(d['contrastive.pos'], d['contrastive.neg'], float(d['contrastive.t']))

    n, c = d['cls.x'].shape[0], d['cls.x'].shape[1]
    ch = H.ClsHead(c, d['cls.fc_cls.weight'].shape[0], True)
    ch.load_state_dict({'fc_cls.weight': d['cls.fc_cls.weight'], 'fc_cls.bias': d['cls.fc_cls.bias']})
    s = ch(d['cls.x'])
    r['cls.loss'] = torch.nn.functional.cross_entropy(s, d['cls.labels'])
    r['cls.acc'] = H.accuracy(s, d['cls.labels'])

    c = d['latent.input'].shape[1]
    hid = d['latent.predictor.fc0.weight'].shape[0]
    pred = H.NonLinearNeck(c, hid, c, 2, with_bias=True, with_last_bn=False, with_avg_pool=False)
    lp = H.LatentPredictHead(pred)
    sd = {k[len('latent.'):]: v for k, v in d.items() if k.startswith('latent.predictor.')}
    lp.load_state_dict(sd, strict=True)
    lp.train()
    r['latent.loss'] = lp(d['latent.input'], d['latent.target'])

    cc = H.LatentCrossCorrelationHead(d['xcorr.z1'].shape[1], float(d['xcorr.lambd']))
    cc.train()
    r['xcorr.loss'] = cc(d['xcorr.z1'], d['xcorr.z2'])
    r['xcorr.bn.running_mean'] = cc.bn.running_mean

    r['sinkhorn.q'] = H.sinkhorn(d['sinkhorn.scores'], 3, 0.05)

    for mode in ('noqueue', 'queue'):
        w = d['swav.prototypes.weight']
        sw = H.SwAVHead(w.shape[1], w.shape[0], [2, 2], [0, 1], 0.1, 0.05, 3)
        sw.prototypes.weight.data.copy_(w)
        if mode == 'queue':
            sw.queue = d['swav.queue'].clone()
        r[f'swav.{mode}.loss'] = sw(d['swav.z'])
        r[f'swav.{mode}.prototypes'] = sw.prototypes.weight.detach().clone()
        if mode == 'queue':
            r['swav.queue.after'] = sw.queue
    torch.save({k: v.detach() for k, v in r.items()}, out_path)


if __name__ == '__main__':
    if sys.argv[1] == 'resnet':
        resnet(*sys.argv[2:6])
    else:
        heads(*sys.argv[2:4])
