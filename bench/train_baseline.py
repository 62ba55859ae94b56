"""PyTorch baseline for the end-to-end training benchmark (scripts/bench-train.sh):
MMSelfSup's SimCLR or MoCo v2 on one process, as its train loop runs it —
torchvision + PIL transforms in a DataLoader with the same number of workers
as flowssl's augment pool, ResNet-18, the algorithm's neck and loss, SGD —
over the same folder of JPEGs, with the same libtorch threads. Prints
img_s (training images per second: batches stepped × batch size / time)
over the steps after --warmup.

usage: /usr/bin/python3 bench/train_baseline.py --algo simclr|mocov2 --data DIR
       [--size 96|224] [--batch 32] [--workers 2] [--threads 1] [--iters 20] [--warmup 3]
       [--channels-last]   (model and batches in torch.channels_last, as flowssl lays them on CPU)
"""
import argparse
import copy
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, '..', 'model', 'testdata', 'nets'))
from augment_baseline import Views, pipeline  # noqa: E402
from ref_resnet import ResNet  # noqa: E402


class NonLinearNeck(nn.Module):
    """SimCLR's neck: MMSelfSup's NonLinearNeck defaults (num_layers=2, with_bias=False,
    with_last_bn=True): fc-BN-ReLU-fc-BN."""

    def __init__(self, inp, hid, out):
        super().__init__()
        self.fc0 = nn.Linear(inp, hid, bias=False)
        self.bn0 = nn.BatchNorm1d(hid)
        self.fc1 = nn.Linear(hid, out, bias=False)
        self.bn1 = nn.BatchNorm1d(out)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.bn1(self.fc1(F.relu(self.bn0(self.fc0(x)))))


class MoCoV2Neck(nn.Module):
    def __init__(self, inp, hid, out):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(inp, hid), nn.ReLU(inplace=True), nn.Linear(hid, out))

    def forward(self, x):
        return self.mlp(F.adaptive_avg_pool2d(x, 1).flatten(1))


FORMAT = torch.contiguous_format


def simclr(size):
    enc = nn.Sequential(ResNet(18, out_indices=(4,)), NonLinearNeck(512, 2048, 128)).to(memory_format=FORMAT)
    opt = torch.optim.SGD(enc.parameters(), lr=0.3, momentum=0.9, weight_decay=1e-6)

    def step(v1, v2):
        n = v1.shape[0]
        x = torch.stack([v1, v2], 1).flatten(0, 1)  # interleaved as MMSelfSup's SimCLR
        z = F.normalize(enc[1](enc[0](x)[0]), dim=1)
        s = z @ z.t() / 0.1
        mask = ~torch.eye(2 * n, dtype=torch.bool)
        s = s[mask].view(2 * n, 2 * n - 1)
        pos_idx = torch.arange(2 * n) ^ 1
        pos_idx = pos_idx - (pos_idx > torch.arange(2 * n)).long()
        loss = F.cross_entropy(s, pos_idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def mocov2(size):
    q = nn.Sequential(ResNet(18, out_indices=(4,)), MoCoV2Neck(512, 512, 128)).to(memory_format=FORMAT)
    k = copy.deepcopy(q)
    for p in k.parameters():
        p.requires_grad = False
    state = {'queue': F.normalize(torch.randn(128, 65536), dim=0), 'ptr': 0}
    opt = torch.optim.SGD(q.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)

    def enc(e, x):
        return F.normalize(e[1](e[0](x)[0]), dim=1)

    def step(v1, v2):
        n = v1.shape[0]
        qf = enc(q, v1)
        with torch.no_grad():
            for pq, pk in zip(q.parameters(), k.parameters()):
                pk.data = pk.data * 0.999 + pq.data * 0.001
            kf = enc(k, v2)
        pos = (qf * kf).sum(1, keepdim=True)
        neg = qf @ state['queue'].clone().detach()
        logits = torch.cat([pos, neg], 1) / 0.2
        loss = F.cross_entropy(logits, torch.zeros(n, dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
        p = state['ptr']
        state['queue'][:, p:p + n] = kf.t()
        state['ptr'] = (p + n) % 65536
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--algo', choices=['simclr', 'mocov2'], required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--iters', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--channels-last', action='store_true')
    a = ap.parse_args()
    global FORMAT
    if a.channels_last:
        FORMAT = torch.channels_last
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ds = Views(a.data, a.algo)
    ds.pipes = [pipeline(a.algo, a.size)] * 2
    dl = DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers, drop_last=True,
                    persistent_workers=a.workers > 0, prefetch_factor=2 if a.workers > 0 else None)
    step = (simclr if a.algo == 'simclr' else mocov2)(a.size)
    done, t0, n = 0, None, 0
    while done < a.warmup + a.iters:
        for v1, v2 in dl:
            step(v1.contiguous(memory_format=FORMAT), v2.contiguous(memory_format=FORMAT))
            done += 1
            if done == a.warmup:
                t0 = time.perf_counter()
            elif done > a.warmup:
                n += v1.shape[0]
            if done >= a.warmup + a.iters:
                break
    dt = time.perf_counter() - t0
    print(f'img_s={n / dt:.1f} algo={a.algo} size={a.size} batch={a.batch} workers={a.workers} '
          f'threads={torch.get_num_threads()} torch={torch.__version__}')


if __name__ == '__main__':
    main()
