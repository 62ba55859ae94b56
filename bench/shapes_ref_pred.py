"""PyTorch reference for BYOL and SimSiam on the Shapes short runs (BENCHMARKS.md, "Short runs per
algorithm"): the predictor-based methods written directly in PyTorch (torchvision ResNet-18 and
transforms, a DataLoader), on the same 2048 training and 512 held-out Shapes images as flowssl and
bench/shapes_ref.py, with the same kNN (k = 20, T = 0.07). It separates "the recipe does not learn
on Shapes" from "flowssl's BYOL/SimSiam is wrong".

BYOL: projector 512->hid->out and predictor out->hid->out (Linear, BN, ReLU, Linear), loss
2 - 2 cos symmetrised, target = EMA of online with the cosine momentum schedule base -> 1.
SimSiam: projector 512->512->512->512 (3 layers, last BN without affine), predictor
512->128->512, stop-gradient, loss -cos symmetrised, predictor at a fixed LR.

usage:
  go run ./bench/shapesdump -out /tmp/shapes32.bin
  /usr/bin/python3 bench/shapes_ref_pred.py --data /tmp/shapes32.bin --algo byol|simsiam
      [--epochs 30 --lr 0.05 --wd 1e-4 --base-momentum 0.99 --scale 0.5 --jitter-p 0.8 --blur
       --zero-init --fix-pred --proj3 --knn-every 10]
Results: BENCHMARKS.md, "4096 held-out images, SimSiam and BYOL".
"""
import argparse
import copy
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T

import torchvision

from shapes_ref import NORM, Views, knn, load_shapes


def backbone(zero_init=False):
    m = torchvision.models.resnet18(zero_init_residual=zero_init)
    m.fc = nn.Identity()
    return m


def proj3():
    """SimSiam's projector: three Linear-BN layers of 512, the last BN without affine."""
    return nn.Sequential(
        nn.Linear(512, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
        nn.Linear(512, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
        nn.Linear(512, 512, bias=False), nn.BatchNorm1d(512, affine=False))


def mlp(i, h, o, last_bn=False, affine=True):
    layers = [nn.Linear(i, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Linear(h, o)]
    if last_bn:
        layers.append(nn.BatchNorm1d(o, affine=affine))
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--algo', choices=['byol', 'simsiam'], default='byol')
    ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--lr', type=float, default=0.05)
    ap.add_argument('--wd', type=float, default=1e-4)
    ap.add_argument('--base-momentum', type=float, default=0.99)
    ap.add_argument('--scale', type=float, default=0.5)
    ap.add_argument('--jitter', type=float, default=0.8, help='brightness/contrast/saturation; hue = jitter/4')
    ap.add_argument('--jitter-p', type=float, default=0.8)
    ap.add_argument('--blur', action='store_true')
    ap.add_argument('--hid', type=int, default=1024)
    ap.add_argument('--out', type=int, default=128)
    ap.add_argument('--bs', type=int, default=64)
    ap.add_argument('--knn-every', type=int, default=10)
    ap.add_argument('--proj3', action='store_true', help="BYOL with SimSiam's projector and predictor")
    ap.add_argument('--fix-pred', action='store_true', help='BYOL: keep the predictor at the base LR')
    ap.add_argument('--zero-init', action='store_true', help='zero_init_residual')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    s = a.size
    imgs, labels = load_shapes(a.data, s)
    j = a.jitter
    aug = [T.RandomResizedCrop(s, scale=(a.scale, 1.0)), T.RandomHorizontalFlip(),
           T.RandomApply([T.ColorJitter(j, j, j, j / 4)], p=a.jitter_p), T.RandomGrayscale(0.2)]
    if a.blur:
        aug.append(T.RandomApply([T.GaussianBlur(3, (0.1, 2.0))], p=0.5))
    tf = T.Compose(aug + [T.ToTensor(), NORM])
    bs = a.bs
    if a.algo == 'byol' and a.proj3:
        online = nn.Sequential(backbone(a.zero_init), proj3())
        target = copy.deepcopy(online)
        for p in target.parameters():
            p.requires_grad = False
        pred = mlp(512, 128, 512)
        groups = [{'params': online.parameters(), 'fix': False}, {'params': pred.parameters(), 'fix': a.fix_pred}]
    elif a.algo == 'byol':
        online = nn.Sequential(backbone(a.zero_init), mlp(512, a.hid, a.out))
        target = copy.deepcopy(online)
        for p in target.parameters():
            p.requires_grad = False
        pred = mlp(a.out, a.hid, a.out)
        groups = [{'params': online.parameters(), 'fix': False}, {'params': pred.parameters(), 'fix': a.fix_pred}]
    else:
        online = nn.Sequential(backbone(a.zero_init), proj3())
        pred = mlp(512, 128, 512)
        groups = [{'params': online.parameters(), 'fix': False}, {'params': pred.parameters(), 'fix': True}]
    print(f'epoch 0 knn {knn(online[0], imgs, labels):.2f}', flush=True)
    opt = torch.optim.SGD(groups, lr=a.lr, momentum=0.9, weight_decay=a.wd)
    dl = torch.utils.data.DataLoader(Views(imgs[:2048], tf), batch_size=bs, shuffle=True, drop_last=True,
                                     num_workers=1, persistent_workers=True)
    total = a.epochs * len(dl)
    it, t0 = 0, time.time()
    for ep in range(a.epochs):
        lr = a.lr * 0.5 * (1 + math.cos(math.pi * ep / a.epochs))
        for g in opt.param_groups:
            g['lr'] = a.lr if g.get('fix') else lr
        tot, n = 0.0, 0
        for v1, v2 in dl:
            x = torch.cat([v1, v2])
            if a.algo == 'byol':
                p = F.normalize(pred(online(x)), dim=1)
                with torch.no_grad():
                    z = F.normalize(target(x), dim=1)
                z = torch.cat([z[bs:], z[:bs]])
                loss = (2 - 2 * (p * z).sum(1)).mean() * 2
            else:
                z = online(x)
                p = pred(z)
                z = torch.cat([z[bs:], z[:bs]]).detach()
                loss = -F.cosine_similarity(p, z, dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            it += 1
            if a.algo == 'byol':
                m = 1 - (1 - a.base_momentum) * (math.cos(math.pi * it / total) + 1) / 2
                with torch.no_grad():
                    for po, pt in zip(online.parameters(), target.parameters()):
                        pt.mul_(m).add_(po.detach(), alpha=1 - m)
            tot, n = tot + loss.item(), n + 1
        line = f'epoch {ep + 1} loss {tot / n:.3f} time {time.time() - t0:.0f}s'
        if (ep + 1) % a.knn_every == 0 or ep + 1 == a.epochs:
            line += f' knn {knn(online[0], imgs, labels):.2f}'
        print(line, flush=True)


if __name__ == '__main__':
    main()
