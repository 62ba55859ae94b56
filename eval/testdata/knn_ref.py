# Reference: MMSelfSup 0.9.0 mmselfsup/models/utils/knn_classifier.py (DINO's
# weighted kNN), re-written from benchmarks.md §1 in plain torch.
# usage: knn_ref.py DIR  (DIR holds train.f32 train.lbl test.f32 test.lbl meta.txt)
import sys, os
import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1]
ntr, nte, dim, ncls, T = open(os.path.join(d, "meta.txt")).read().split()
ntr, nte, dim, ncls, T = int(ntr), int(nte), int(dim), int(ncls), float(T)
ks = [int(k) for k in sys.argv[2:]]
tr = torch.from_numpy(np.fromfile(os.path.join(d, "train.f32"), dtype=np.float32).reshape(ntr, dim))
te = torch.from_numpy(np.fromfile(os.path.join(d, "test.f32"), dtype=np.float32).reshape(nte, dim))
trl = torch.from_numpy(np.fromfile(os.path.join(d, "train.lbl"), dtype=np.int64))
tel = torch.from_numpy(np.fromfile(os.path.join(d, "test.lbl"), dtype=np.int64))
tr = F.normalize(tr, dim=1)
te = F.normalize(te, dim=1)
trT = tr.t()
for k in ks:
    top1 = top5 = 0
    chunk = max(1, nte // 100)
    onehot = torch.zeros(k, ncls)
    for s in range(0, nte, chunk):
        feats = te[s:s + chunk]
        targets = tel[s:s + chunk]
        b = targets.shape[0]
        sim = torch.mm(feats, trT)
        dist, idx = sim.topk(k, largest=True, sorted=True)
        cand = trl.view(1, -1).expand(b, -1)
        retrieved = torch.gather(cand, 1, idx)
        oh = torch.zeros(b * k, ncls)
        oh.scatter_(1, retrieved.view(-1, 1), 1)
        w = dist.clone().div_(T).exp_()
        probs = torch.sum(torch.mul(oh.view(b, -1, ncls), w.view(b, -1, 1)), 1)
        _, pred = probs.sort(1, True)
        correct = pred.eq(targets.data.view(-1, 1))
        top1 += correct.narrow(1, 0, 1).sum().item()
        top5 += correct.narrow(1, 0, min(5, k)).sum().item()
    print(k, 100.0 * top1 / nte, 100.0 * top5 / nte)
