"""Plain-torch references of MMSelfSup v0.9.0's heads, necks and SwAV's
Sinkhorn (heads/*.py, necks/nonlinear_neck.py, utils/distributed_sinkhorn.py)
on one process."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def contrastive(pos, neg, t):
    logits = torch.cat((pos, neg), dim=1) / t
    labels = torch.zeros((pos.size(0),), dtype=torch.long)
    return F.cross_entropy(logits, labels)


class ClsHead(nn.Module):
    def __init__(self, cin, ncls, with_avg_pool):
        super().__init__()
        self.with_avg_pool = with_avg_pool
        self.fc_cls = nn.Linear(cin, ncls)

    def forward(self, x):
        if self.with_avg_pool:
            x = F.adaptive_avg_pool2d(x, 1)
        return self.fc_cls(x.view(x.size(0), -1))


def accuracy(pred, target):
    return (pred.argmax(1) == target).float().sum() * 100.0 / target.size(0)


class NonLinearNeck(nn.Module):
    def __init__(self, cin, hid, cout, num_layers=2, with_bias=False, with_last_bn=True,
                 with_last_bn_affine=True, with_last_bias=False, with_avg_pool=True):
        super().__init__()
        self.with_avg_pool = with_avg_pool
        self.relu = nn.ReLU(inplace=True)
        self.fc0 = nn.Linear(cin, hid, bias=with_bias)
        self.bn0 = nn.BatchNorm1d(hid)
        self.fc_names, self.bn_names = [], []
        for i in range(1, num_layers):
            this = cout if i == num_layers - 1 else hid
            if i != num_layers - 1:
                self.add_module(f'fc{i}', nn.Linear(hid, this, bias=with_bias))
                self.add_module(f'bn{i}', nn.BatchNorm1d(this))
                self.bn_names.append(f'bn{i}')
            else:
                self.add_module(f'fc{i}', nn.Linear(hid, this, bias=with_last_bias))
                if with_last_bn:
                    self.add_module(f'bn{i}', nn.BatchNorm1d(this, affine=with_last_bn_affine))
                    self.bn_names.append(f'bn{i}')
                else:
                    self.bn_names.append(None)
            self.fc_names.append(f'fc{i}')

    def forward(self, x):
        x = x[0]
        if self.with_avg_pool:
            x = F.adaptive_avg_pool2d(x, 1)
        x = self.bn0(self.fc0(x.view(x.size(0), -1)))
        for f, b in zip(self.fc_names, self.bn_names):
            x = getattr(self, f)(self.relu(x))
            if b is not None:
                x = getattr(self, b)(x)
        return [x]


class LatentPredictHead(nn.Module):
    def __init__(self, predictor):
        super().__init__()
        self.predictor = predictor

    def forward(self, inp, target):
        pred = self.predictor([inp])[0]
        p = F.normalize(pred, dim=1)
        t = F.normalize(target.detach(), dim=1)
        return -(p * t).sum(dim=1).mean()


class LatentCrossCorrelationHead(nn.Module):
    def __init__(self, cin, lambd):
        super().__init__()
        self.lambd = lambd
        self.bn = nn.BatchNorm1d(cin, affine=False)

    def forward(self, inp, target):
        c = self.bn(inp).T @ self.bn(target)
        c.div_(inp.size(0))
        on = torch.diagonal(c).add_(-1).pow_(2).sum()
        n = c.shape[0]
        off = c.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten().pow_(2).sum()
        return on + self.lambd * off


@torch.no_grad()
def sinkhorn(out, iters, eps):
    Q = torch.exp(out / eps).t()
    B, K = Q.shape[1], Q.shape[0]
    Q /= torch.sum(Q)
    for _ in range(iters):
        u = torch.sum(Q, dim=1, keepdim=True)
        if len(torch.nonzero(u == 0)) > 0:
            Q += 1e-12
            u = torch.sum(Q, dim=1, keepdim=True, dtype=Q.dtype)
        Q /= u
        Q /= K
        Q /= torch.sum(Q, dim=0, keepdim=True)
        Q /= B
    Q *= B
    return Q.t()


class SwAVHead(nn.Module):
    def __init__(self, feat_dim, num_prototypes, num_crops, crops_for_assign, t, eps, iters):
        super().__init__()
        self.prototypes = nn.Linear(feat_dim, num_prototypes, bias=False)
        self.num_crops, self.crops_for_assign = num_crops, crops_for_assign
        self.temperature, self.epsilon, self.sinkhorn_iterations = t, eps, iters
        self.queue, self.use_queue = None, False

    def forward(self, x):
        with torch.no_grad():
            w = F.normalize(self.prototypes.weight.data.clone(), dim=1, p=2)
            self.prototypes.weight.copy_(w)
        embedding, output = x.detach(), self.prototypes(x)
        bs = int(embedding.size(0) / sum(self.num_crops))
        loss = 0
        for i, crop_id in enumerate(self.crops_for_assign):
            with torch.no_grad():
                out = output[bs * crop_id:bs * (crop_id + 1)].detach()
                if self.queue is not None:
                    if self.use_queue or not torch.all(self.queue[i, -1, :] == 0):
                        self.use_queue = True
                        out = torch.cat((torch.mm(self.queue[i], self.prototypes.weight.t()), out))
                    self.queue[i, bs:] = self.queue[i, :-bs].clone()
                    self.queue[i, :bs] = embedding[crop_id * bs:(crop_id + 1) * bs]
                q = sinkhorn(out, self.sinkhorn_iterations, self.epsilon)[-bs:]
            subloss = 0
            for v in np.delete(np.arange(np.sum(self.num_crops)), crop_id):
                xv = output[bs * v:bs * (v + 1)] / self.temperature
                subloss -= torch.mean(torch.sum(q * F.log_softmax(xv, dim=1), dim=1))
            loss += subloss / (np.sum(self.num_crops) - 1)
        loss /= len(self.crops_for_assign)
        return loss
