"""Plain-torch references of the ResNet variants and necks MMSelfSup 0.9.0
builds: mmcls 0.23's ResNet (deep_stem, avg_down, style, dilations,
frozen_stages, norm_eval), ResNetV1d, ResNeXt (mmcls resnext Bottleneck:
grouped conv2, mid = groups * width_per_group * mid // base_channels),
ResNet_CIFAR's stem (3x3 stride-1 conv1, no max-pool), all with MMSelfSup's
out_indices (0 = stem output); and the necks of mmselfsup/models/necks.
Module attribute names and registration order follow mmcls/MMSelfSup so
state_dict keys (and their order) are MMSelfSup's."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvModule(nn.Module):
    """mmcv ConvModule(conv, norm 'bn', ReLU) of the deep stem."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp, out, expansion=1, stride=1, dilation=1, downsample=None, style='pytorch', groups=1, width=4,
                 base=64):
        super().__init__()
        assert expansion == 1
        mid = out // expansion
        self.conv1 = nn.Conv2d(inp, mid, 3, stride, dilation, dilation, bias=False)
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

    def __init__(self, inp, out, expansion=4, stride=1, dilation=1, downsample=None, style='pytorch', groups=1, width=4,
                 base=64):
        super().__init__()
        mid = out // expansion
        if groups != 1:  # mmcls resnext.Bottleneck
            assert mid % base == 0
            mid = groups * width * mid // base
        s1, s2 = (1, stride) if style == 'pytorch' else (stride, 1)
        self.conv1 = nn.Conv2d(inp, mid, 1, s1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, s2, dilation, dilation, groups=groups, bias=False)
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
    """cfg: MMSelfSup config dict (type ResNet | ResNetV1d | ResNeXt |
    ResNet_CIFAR plus its arguments)."""

    def __init__(self, cfg):
        super().__init__()
        typ = cfg.get('type', 'ResNet')
        depth = cfg['depth']
        block, stages = ARCH[depth]
        in_ch = cfg.get('in_channels', 3)
        stem = cfg.get('stem_channels', 64)
        base = cfg.get('base_channels', 64)
        num_stages = cfg.get('num_stages', 4)
        strides = cfg.get('strides', (1, 2, 2, 2))
        dilations = cfg.get('dilations', (1, 1, 1, 1))
        self.out_indices = tuple(cfg.get('out_indices', (4,)))
        style = cfg.get('style', 'pytorch')
        self.deep_stem = cfg.get('deep_stem', False) or typ == 'ResNetV1d'
        avg_down = cfg.get('avg_down', False) or typ == 'ResNetV1d'
        self.frozen_stages = cfg.get('frozen_stages', -1)
        self.norm_eval = cfg.get('norm_eval', False)
        self.cifar = typ == 'ResNet_CIFAR'
        groups, width = 1, 4
        if typ == 'ResNeXt':
            groups, width = cfg.get('groups', 32), cfg.get('width_per_group', 4)
        expansion = cfg.get('expansion') or block.expansion
        if self.deep_stem:
            self.stem = nn.Sequential(ConvModule(in_ch, stem // 2, 2), ConvModule(stem // 2, stem // 2, 1),
                                      ConvModule(stem // 2, stem, 1))
        elif self.cifar:
            self.conv1 = nn.Conv2d(in_ch, stem, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(stem)
        else:
            self.conv1 = nn.Conv2d(in_ch, stem, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.num_stages = num_stages
        inp, out = stem, base * expansion
        for i in range(num_stages):
            stride, dil = strides[i], dilations[i]
            layers = []
            for b in range(stages[i]):
                ds = None
                if b == 0 and (stride != 1 or inp != out):
                    mods, cs = [], stride
                    if avg_down and stride != 1:
                        cs = 1
                        mods.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
                    mods += [nn.Conv2d(inp, out, 1, cs, bias=False), nn.BatchNorm2d(out)]
                    ds = nn.Sequential(*mods)
                layers.append(block(inp, out, expansion, stride if b == 0 else 1, dil, ds, style, groups, width, base))
                inp = out
            self.add_module(f'layer{i + 1}', nn.Sequential(*layers))
            out *= 2
        self.train()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            mods = [self.stem] if self.deep_stem else [self.conv1, self.bn1]
            for m in mods:
                m.eval()
                for p in m.parameters():
                    p.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            m = getattr(self, f'layer{i}')
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward(self, x):
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.bn1(self.conv1(x)))
        outs = []
        if 0 in self.out_indices:
            outs.append(x)
        if not self.cifar:
            x = self.maxpool(x)
        for i in range(self.num_stages):
            x = getattr(self, f'layer{i + 1}')(x)
            if i + 1 in self.out_indices:
                outs.append(x)
        return tuple(outs)


# ---- necks (mmselfsup/models/necks, v0.9.0); SyncBN acts as BN on one process.

class LinearNeck(nn.Module):
    def __init__(self, in_channels, out_channels, with_avg_pool=True):
        super().__init__()
        self.with_avg_pool = with_avg_pool
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_channels, out_channels)

    def forward(self, x):
        x = x[0]
        if self.with_avg_pool:
            x = self.avgpool(x)
        return [self.fc(x.view(x.size(0), -1))]


class MoCoV2Neck(nn.Module):
    def __init__(self, in_channels, hid_channels, out_channels, with_avg_pool=True):
        super().__init__()
        self.with_avg_pool = with_avg_pool
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.mlp = nn.Sequential(nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
                                 nn.Linear(hid_channels, out_channels))

    def forward(self, x):
        x = x[0]
        if self.with_avg_pool:
            x = self.avgpool(x)
        return [self.mlp(x.view(x.size(0), -1))]


class NonLinearNeck(nn.Module):
    def __init__(self, in_channels, hid_channels, out_channels, num_layers=2, with_bias=False, with_last_bn=True,
                 with_last_bn_affine=True, with_last_bias=False, with_avg_pool=True):
        super().__init__()
        self.with_avg_pool = with_avg_pool
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.relu = nn.ReLU(inplace=True)
        self.fc0 = nn.Linear(in_channels, hid_channels, bias=with_bias)
        self.bn0 = nn.BatchNorm1d(hid_channels)
        self.fc_names, self.bn_names = [], []
        for i in range(1, num_layers):
            ch = out_channels if i == num_layers - 1 else hid_channels
            if i != num_layers - 1:
                self.add_module(f'fc{i}', nn.Linear(hid_channels, ch, bias=with_bias))
                self.add_module(f'bn{i}', nn.BatchNorm1d(ch))
                self.bn_names.append(f'bn{i}')
            else:
                self.add_module(f'fc{i}', nn.Linear(hid_channels, ch, bias=with_last_bias))
                if with_last_bn:
                    self.add_module(f'bn{i}', nn.BatchNorm1d(ch, affine=with_last_bn_affine))
                    self.bn_names.append(f'bn{i}')
                else:
                    self.bn_names.append(None)
            self.fc_names.append(f'fc{i}')

    def forward(self, x):
        x = x[0]
        if self.with_avg_pool:
            x = self.avgpool(x)
        x = self.bn0(self.fc0(x.view(x.size(0), -1)))
        for fc, bn in zip(self.fc_names, self.bn_names):
            x = getattr(self, fc)(self.relu(x))
            if bn is not None:
                x = getattr(self, bn)(x)
        return [x]


class RelativeLocNeck(nn.Module):
    def __init__(self, in_channels, out_channels, with_avg_pool=True):
        super().__init__()
        self.with_avg_pool = with_avg_pool
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_channels * 2, out_channels)
        self.bn = nn.BatchNorm1d(out_channels, momentum=0.003)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout()

    def forward(self, x):
        x = x[0]
        if self.with_avg_pool:
            x = self.avgpool(x)
        return [self.dropout(self.relu(self.bn(self.fc(x.view(x.size(0), -1)))))]


class ODCNeck(nn.Module):
    def __init__(self, in_channels, hid_channels, out_channels, with_avg_pool=True):
        super().__init__()
        self.with_avg_pool = with_avg_pool
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc0 = nn.Linear(in_channels, hid_channels)
        self.bn0 = nn.BatchNorm1d(hid_channels, momentum=0.001, affine=False)
        self.fc1 = nn.Linear(hid_channels, out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout()

    def forward(self, x):
        x = x[0]
        if self.with_avg_pool:
            x = self.avgpool(x)
        x = self.dropout(self.relu(self.bn0(self.fc0(x.view(x.size(0), -1)))))
        return [self.relu(self.fc1(x))]


class DenseCLNeck(nn.Module):
    def __init__(self, in_channels, hid_channels, out_channels, num_grid=None):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.mlp = nn.Sequential(nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
                                 nn.Linear(hid_channels, out_channels))
        self.with_pool = num_grid is not None
        if self.with_pool:
            self.pool = nn.AdaptiveAvgPool2d((num_grid, num_grid))
        self.mlp2 = nn.Sequential(nn.Conv2d(in_channels, hid_channels, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(hid_channels, out_channels, 1))
        self.avgpool2 = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        x = x[0]
        g = self.avgpool(x)
        g = self.mlp(g.view(g.size(0), -1))
        if self.with_pool:
            x = self.pool(x)
        x = self.mlp2(x)
        a = self.avgpool2(x)
        x = x.view(x.size(0), x.size(1), -1)
        return [g, x, a.view(a.size(0), -1)]


class AvgPool2dNeck(nn.Module):
    def __init__(self, output_size=1):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(output_size)

    def forward(self, x):
        return [self.avgpool(x[0])]


class SwAVNeck(nn.Module):
    """Takes one tensor per crop-size group (MMSelfSup passes the backbone's
    output tuples and reads _x[0]; the driver wraps each tensor)."""

    def __init__(self, in_channels, hid_channels, out_channels, with_avg_pool=True, with_l2norm=True):
        super().__init__()
        self.with_avg_pool = with_avg_pool
        self.with_l2norm = with_l2norm
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        if out_channels == 0:
            self.projection_neck = None
        elif hid_channels == 0:
            self.projection_neck = nn.Linear(in_channels, out_channels)
        else:
            self.bn = nn.BatchNorm1d(hid_channels)
            self.projection_neck = nn.Sequential(nn.Linear(in_channels, hid_channels), self.bn,
                                                 nn.ReLU(inplace=True), nn.Linear(hid_channels, out_channels))

    def forward(self, x):
        avg_out = []
        for _x in x:
            _x = _x[0]
            if self.with_avg_pool:
                avg_out.append(self.avgpool(_x))
        f = torch.cat(avg_out)
        f = f.view(f.size(0), -1)
        if self.projection_neck is not None:
            f = self.projection_neck(f)
        if self.with_l2norm:
            f = F.normalize(f, dim=1, p=2)
        return [f]


NECKS = {c.__name__: c for c in (LinearNeck, MoCoV2Neck, NonLinearNeck, RelativeLocNeck, ODCNeck, DenseCLNeck,
                                 AvgPool2dNeck, SwAVNeck)}
# Config keys the references do not take (norm_cfg: SyncBN == BN here).
IGNORED = {'type', 'norm_cfg', 'init_cfg'}


def build_neck(cfg):
    return NECKS[cfg['type']](**{k: v for k, v in cfg.items() if k not in IGNORED})
