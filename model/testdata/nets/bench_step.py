"""PyTorch counterpart of model's BenchmarkResNet18Step96 and
BenchmarkResNet50Step224: forward+backward of ref_resnet.ResNet (train
mode, out_indices (4,), loss = mean of the output) at batch 32.

usage: /usr/bin/python3 bench_step.py [--depth 50 --size 224 --iters 10 --threads N]
Prints img/s (after 2 warm-up steps)."""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_resnet import ResNet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--depth', type=int, default=50)
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--iters', type=int, default=10)
    ap.add_argument('--threads', type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = ResNet(a.depth, out_indices=(4,)).train()
    x = torch.randn(a.batch, 3, a.size, a.size)

    def step():
        m.zero_grad(set_to_none=False)
        m(x)[0].mean().backward()

    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(a.iters):
        step()
    dt = time.perf_counter() - t
    print(f'resnet{a.depth} {a.size}px batch {a.batch}: {a.iters * a.batch / dt:.1f} img/s '
          f'(torch {torch.__version__}, {torch.get_num_threads()} threads)')


if __name__ == '__main__':
    main()
