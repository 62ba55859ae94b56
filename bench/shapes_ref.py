"""PyTorch reference for the Shapes short runs (BENCHMARKS.md, "Short runs per algorithm"):
MoCo v1 as MMSelfSup runs it (ResNet-18 with torchvision's init, linear neck 512->128, key
encoder copied from the query encoder, EMA before the keys, keys over two shuffled half-batches
as flowssl's shuffle-BN emulation, queue, InfoNCE, SGD momentum 0.9 wd 1e-4, batch 64), with the
32 px config's pipeline (RandomResizedCrop, RandomGrayscale 0.2, ColorJitter 0.8/0.8/0.8/0.2,
flip), on the same 2048 training images, then the kNN benchmark (k = 20, T = 0.07) on the same
512 held-out images. It separates "the recipe does not learn on Shapes" from "flowssl's MoCo is
wrong": with crops of scale 0.2-1 this loop stays at the random-init floor as flowssl did.

usage:
  go run ./bench/shapesdump -out /tmp/shapes32.bin
  /usr/bin/python3 bench/shapes_ref.py --data /tmp/shapes32.bin [--epochs 30 --lr 0.06
      --temperature 0.07 --queue 1024 --momentum 0.99 --scale 0.5 --schedule cos|step]
"""
import argparse
import copy
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from PIL import Image

NORM = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


class Views(torch.utils.data.Dataset):
    def __init__(self, imgs, tf):
        self.imgs, self.tf = imgs, tf

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, i):
        im = Image.fromarray(self.imgs[i])
        return self.tf(im), self.tf(im)


def load_shapes(path, s):
    """The images (N×s×s×3 uint8) and labels of a bench/shapesdump file."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, s * s * 3 + 1)
    return raw[:, :-1].reshape(-1, s, s, 3), torch.tensor(raw[:, -1].astype(np.int64))


def backbone():
    m = torchvision.models.resnet18()
    m.fc = nn.Identity()
    return m


@torch.no_grad()
def knn(net, imgs, labels, n_train=2048, k=20, t=0.07):
    net.eval()
    x = NORM(torch.tensor(imgs).permute(0, 3, 1, 2).float() / 255)
    f = F.normalize(torch.cat([net(x[i:i + 256]) for i in range(0, len(x), 256)]), dim=1)
    tr, va, ytr, yva = f[:n_train], f[n_train:], labels[:n_train], labels[n_train:]
    w, idx = (va @ tr.T).topk(k, dim=1)
    votes = torch.zeros(len(va), 10).scatter_add_(1, ytr[idx], (w / t).exp())
    net.train()
    return (votes.argmax(1) == yva).float().mean().item() * 100


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--lr', type=float, default=0.06)
    ap.add_argument('--temperature', type=float, default=0.07)
    ap.add_argument('--queue', type=int, default=1024)
    ap.add_argument('--momentum', type=float, default=0.99)
    ap.add_argument('--scale', type=float, default=0.5)
    ap.add_argument('--schedule', choices=['cos', 'step'], default='cos')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    s = a.size
    imgs, labels = load_shapes(a.data, s)
    tf = T.Compose([T.RandomResizedCrop(s, scale=(a.scale, 1.0)), T.RandomGrayscale(0.2),
                    T.ColorJitter(0.8, 0.8, 0.8, 0.2), T.RandomHorizontalFlip(), T.ToTensor(), NORM])
    q = nn.Sequential(backbone(), nn.Linear(512, 128))
    k = copy.deepcopy(q)
    for p in k.parameters():
        p.requires_grad = False
    queue, ptr, bs = F.normalize(torch.randn(128, a.queue), dim=0), 0, 64
    print(f'epoch 0 knn {knn(q[0], imgs, labels):.2f}', flush=True)
    opt = torch.optim.SGD(q.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
    if a.schedule == 'cos':
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs)
    else:
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [a.epochs * 2 // 3, a.epochs * 5 // 6])
    dl = torch.utils.data.DataLoader(Views(imgs[:2048], tf), batch_size=bs, shuffle=True, drop_last=True,
                                     num_workers=1, persistent_workers=True)
    t0 = time.time()
    for ep in range(a.epochs):
        tot, n = 0.0, 0
        for v1, v2 in dl:
            z = F.normalize(q(v1), dim=1)
            with torch.no_grad():
                for pq, pk in zip(q.parameters(), k.parameters()):
                    pk.mul_(a.momentum).add_(pq.detach(), alpha=1 - a.momentum)
                perm = torch.randperm(bs)
                kk = torch.cat([k(v2[perm][:bs // 2]), k(v2[perm][bs // 2:])])
                kk = F.normalize(kk[perm.argsort()], dim=1)
            logits = torch.cat([(z * kk).sum(1, keepdim=True), z @ queue.clone()], 1) / a.temperature
            loss = F.cross_entropy(logits, torch.zeros(bs, dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            opt.step()
            queue[:, ptr:ptr + bs] = kk.T
            ptr = (ptr + bs) % a.queue
            tot, n = tot + loss.item(), n + 1
        sched.step()
        line = f'epoch {ep + 1} loss {tot / n:.3f} time {time.time() - t0:.0f}s'
        if (ep + 1) % 10 == 0 or ep + 1 == a.epochs:
            line += f' knn {knn(q[0], imgs, labels):.2f}'
        print(line, flush=True)


if __name__ == '__main__':
    main()
