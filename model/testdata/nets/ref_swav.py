"""MMSelfSup 0.9.0's SwAV forward_train (algorithms/swav.py, necks/swav_neck.py,
heads/swav_head.py) in torch, for model's TestSwAVParityTorch.

usage: ref_swav.py IN.pth OUT.pth
IN.pth holds sd.<state-dict key>, view.<i> (the crops, in view order), num_crops, and
optionally queue; OUT.pth receives loss, the normalised prototypes, the gradients
grad.<key> of every parameter, and queue.after when a queue was given."""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_heads import SwAVHead  # noqa: E402
from ref_resnet import ResNet  # noqa: E402


class SwAVNeck(nn.Module):
    def __init__(self, cin, hid, cout):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.bn = nn.BatchNorm1d(hid)
        self.projection_neck = nn.Sequential(nn.Linear(cin, hid), self.bn, nn.ReLU(inplace=True), nn.Linear(hid, cout))

    def forward(self, x):
        avg_out = [self.avgpool(_x[0]) for _x in x]
        feat_vec = torch.cat(avg_out)
        feat_vec = feat_vec.view(feat_vec.size(0), -1)
        return [F.normalize(self.projection_neck(feat_vec), dim=1, p=2)]


class SwAV(nn.Module):
    def __init__(self, depth, hid, out, protos, num_crops):
        super().__init__()
        self.backbone = ResNet(depth)
        cin = 512 if depth < 50 else 2048
        self.neck = SwAVNeck(cin, hid, out)
        self.head = SwAVHead(out, protos, num_crops, [0, 1], 0.1, 0.05, 3)

    def forward_train(self, img):
        idx_crops = torch.cumsum(torch.unique_consecutive(
            torch.tensor([i.shape[-1] for i in img]), return_counts=True)[1], 0)
        start_idx = 0
        output = []
        for end_idx in idx_crops:
            output.append(self.backbone(torch.cat(img[start_idx:end_idx])))
            start_idx = end_idx
        output = self.neck(output)[0]
        return self.head(output)


def main(inp, out_path):
    d = torch.load(inp)
    sd = {k[3:]: v for k, v in d.items() if k.startswith('sd.')}
    num_crops = [int(x) for x in d['num_crops'].tolist()]
    hid = sd['neck.projection_neck.0.weight'].shape[0]
    out = sd['neck.projection_neck.3.weight'].shape[0]
    protos = sd['head.prototypes.weight'].shape[0]
    m = SwAV(18, hid, out, protos, num_crops)
    m.load_state_dict(sd, strict=True)
    m.train()
    if 'queue' in d:
        m.head.queue = d['queue'].clone()
    views = [d[f'view.{i}'] for i in range(sum(num_crops))]
    loss = m.forward_train(views)
    loss.backward()
    r = {'loss': loss.detach(), 'prototypes': m.head.prototypes.weight.detach().clone()}
    for k, p in m.named_parameters():
        if p.grad is not None:
            r['grad.' + k] = p.grad
    if m.head.queue is not None:
        r['queue.after'] = m.head.queue
    torch.save(r, out_path)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
