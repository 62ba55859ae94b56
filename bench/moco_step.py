"""PyTorch counterpart of model's BenchmarkMoCoV2Step96 / BenchmarkMoCoV2Step224R50:
one MoCo v2 training step as MMSelfSup's algorithms/moco.py runs it on one GPU
(query and key encoders with MoCoV2Neck, EMA m=0.999 before the keys, a
128×65536 queue, InfoNCE at T=0.2, backward, SGD lr 0.03 momentum 0.9 wd 1e-4),
batch 32, two untimed warm-up steps. Prints img/s.

usage: /usr/bin/python3 bench/moco_step.py [--depth 18 --size 96 --iters 6 --threads 2]
"""
import argparse
import copy
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'model', 'testdata', 'nets'))
from ref_resnet import ResNet  # noqa: E402


class MoCoV2Neck(nn.Module):
    def __init__(self, inp, hid, out):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(inp, hid), nn.ReLU(inplace=True), nn.Linear(hid, out))

    def forward(self, x):
        return self.mlp(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--depth', type=int, default=18)
    ap.add_argument('--size', type=int, default=96)
    ap.add_argument('--iters', type=int, default=6)
    ap.add_argument('--threads', type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    width = 2048 if a.depth >= 50 else 512
    q = nn.Sequential(ResNet(a.depth, out_indices=(4,)), MoCoV2Neck(width, width, 128))
    k = copy.deepcopy(q)
    for p in k.parameters():
        p.requires_grad = False
    queue = F.normalize(torch.randn(128, 65536), dim=0)
    ptr = 0
    opt = torch.optim.SGD(q.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    v1 = torch.randn(32, 3, a.size, a.size)
    v2 = torch.randn(32, 3, a.size, a.size)

    def encode(enc, x):
        return F.normalize(enc[1](enc[0](x)[0]), dim=1)

    def step():
        nonlocal queue, ptr
        qf = encode(q, v1)
        with torch.no_grad():
            for pq, pk in zip(q.parameters(), k.parameters()):
                pk.data = pk.data * 0.999 + pq.data * 0.001
            kf = encode(k, v2)
        pos = (qf * kf).sum(1, keepdim=True)
        neg = qf @ queue.clone().detach()
        logits = torch.cat([pos, neg], 1) / 0.2
        loss = F.cross_entropy(logits, torch.zeros(32, dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
        queue[:, ptr:ptr + 32] = kf.t()
        ptr = (ptr + 32) % 65536

    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(a.iters):
        step()
    dt = time.perf_counter() - t
    print(f'moco v2 resnet{a.depth} {a.size}px batch 32: {a.iters * 32 / dt:.1f} img/s '
          f'(torch {torch.__version__}, {torch.get_num_threads()} threads)')


if __name__ == '__main__':
    main()
