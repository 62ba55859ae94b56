"""Plain-torch reference of MMSelfSup's ResNet (mmcls 0.23 ResNet with
MMSelfSup's out_indices: 0 = stem before max-pool, k = layer k). Module
attribute names follow mmcls so state_dict keys match MMSelfSup's."""
import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp, out, stride=1, downsample=None):
        super().__init__()
        mid = out // self.expansion
        self.conv1 = nn.Conv2d(inp, mid, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inp, out, stride=1, downsample=None):
        super().__init__()
        mid = out // self.expansion
        self.conv1 = nn.Conv2d(inp, mid, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


ARCH = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)), 101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3))}


class ResNet(nn.Module):
    def __init__(self, depth, in_channels=3, out_indices=(4,)):
        super().__init__()
        block, stages = ARCH[depth]
        self.out_indices = out_indices
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inp, out = 64, 64 * block.expansion
        for i, n in enumerate(stages):
            stride = 1 if i == 0 else 2
            layers = []
            for b in range(n):
                ds = None
                if b == 0 and (stride != 1 or inp != out):
                    ds = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                layers.append(block(inp, out, stride if b == 0 else 1, ds))
                inp = out
            self.add_module(f'layer{i + 1}', nn.Sequential(*layers))
            out *= 2

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        outs = []
        if 0 in self.out_indices:
            outs.append(x)
        x = self.maxpool(x)
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            if i + 1 in self.out_indices:
                outs.append(x)
        return tuple(outs)
