"""Reference for flowssl's batch Mixup/CutMix and soft-target label
smoothing, transcribed from mmcls 0.23 (models/utils/augment/mixup.py,
cutmix.py, utils.py one_hot_encoding; models/losses/label_smooth_loss.py
mode 'original' and cross_entropy_loss.py soft_cross_entropy). The random
draws (np.random.beta, np.random.randint, torch.randperm) are replaced by
the values the Go test chose, so both sides mix with the same λ, π and
box.

usage: ref_mix.py CASES.json IN.pth OUT.pth
IN.pth holds x (N×C×H×W), labels (N int64) and scores (N×K).
CASES.json: [{"kind": "mixup"|"cutmix", "lam", "perm", "cy", "cx",
"classes", "eps", "correct_lam"}]. OUT.pth gets, per case i, img.i,
label.i, loss.i and for CutMix box.i = [y0, y1, x0, x1] and lam.i."""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F


def one_hot_encoding(gt, num_classes):
    assert gt.shape[0] > 0
    one_hot = torch.zeros((gt.shape[0], num_classes), dtype=torch.float)
    return one_hot.scatter_(1, gt.view(-1, 1), 1)


class BatchMixupLayer:
    def __init__(self, alpha, num_classes, prob=1.0):
        self.alpha, self.num_classes, self.prob = alpha, num_classes, prob

    def mixup(self, img, gt_label):
        one_hot_gt_label = one_hot_encoding(gt_label, self.num_classes)
        lam = np.random.beta(self.alpha, self.alpha)
        batch_size = img.size(0)
        index = torch.randperm(batch_size)
        mixed_img = lam * img + (1 - lam) * img[index, :]
        mixed_gt_label = lam * one_hot_gt_label + (1 - lam) * one_hot_gt_label[index, :]
        return mixed_img, mixed_gt_label

    def __call__(self, img, gt_label):
        return self.mixup(img, gt_label)


class BatchCutMixLayer:
    def __init__(self, alpha, num_classes, prob=1.0, cutmix_minmax=None, correct_lam=True):
        self.alpha, self.num_classes, self.prob = alpha, num_classes, prob
        self.cutmix_minmax, self.correct_lam = cutmix_minmax, correct_lam
        self.last = None

    def rand_bbox(self, img_shape, lam, margin=0., count=None):
        ratio = np.sqrt(1 - lam)
        img_h, img_w = img_shape[-2:]
        cut_h, cut_w = int(img_h * ratio), int(img_w * ratio)
        margin_y, margin_x = int(margin * cut_h), int(margin * cut_w)
        cy = np.random.randint(0 + margin_y, img_h - margin_y, size=count)
        cx = np.random.randint(0 + margin_x, img_w - margin_x, size=count)
        yl = np.clip(cy - cut_h // 2, 0, img_h)
        yh = np.clip(cy + cut_h // 2, 0, img_h)
        xl = np.clip(cx - cut_w // 2, 0, img_w)
        xh = np.clip(cx + cut_w // 2, 0, img_w)
        return yl, yh, xl, xh

    def cutmix_bbox_and_lam(self, img_shape, lam, count=None):
        yl, yu, xl, xu = self.rand_bbox(img_shape, lam, count=count)
        if self.correct_lam or self.cutmix_minmax is not None:
            bbox_area = (yu - yl) * (xu - xl)
            lam = 1. - bbox_area / float(img_shape[-2] * img_shape[-1])
        return (yl, yu, xl, xu), lam

    def cutmix(self, img, gt_label):
        one_hot_gt_label = one_hot_encoding(gt_label, self.num_classes)
        lam = np.random.beta(self.alpha, self.alpha)
        batch_size = img.size(0)
        index = torch.randperm(batch_size)
        (bby1, bby2, bbx1, bbx2), lam = self.cutmix_bbox_and_lam(img.shape, lam)
        img[:, :, bby1:bby2, bbx1:bbx2] = img[index, :, bby1:bby2, bbx1:bbx2]
        mixed_gt_label = lam * one_hot_gt_label + (1 - lam) * one_hot_gt_label[index, :]
        self.last = ([int(bby1), int(bby2), int(bbx1), int(bbx2)], lam)
        return img, mixed_gt_label

    def __call__(self, img, gt_label):
        return self.cutmix(img, gt_label)


def label_smooth_loss(cls_score, label, label_smooth_val, num_classes):
    # LabelSmoothLoss(mode='original', reduction='mean'): one-hot-like
    # labels pass through; smoothed; CrossEntropyLoss(use_soft=True).
    if label.dim() == 1 or (label.dim() == 2 and label.shape[1] == 1):
        label = one_hot_encoding(label.view(-1), num_classes)
    label = label.float()
    smooth = label * (1 - label_smooth_val) + label_smooth_val / num_classes
    loss = -smooth * F.log_softmax(cls_score, dim=-1)
    return loss.sum(dim=-1).mean()


def main():
    cases = json.loads(sys.argv[1])
    d = torch.load(sys.argv[2])
    out = {}
    for i, c in enumerate(cases):
        np.random.beta = lambda a, b, lam=c['lam']: lam
        centre = iter([c.get('cy', 0), c.get('cx', 0)])
        np.random.randint = lambda lo, hi, size=None: next(centre)
        torch.randperm = lambda n, perm=c['perm']: torch.tensor(perm)
        x = d['x'].clone()
        if c['kind'] == 'mixup':
            aug = BatchMixupLayer(0.8, c['classes'])
        else:
            aug = BatchCutMixLayer(1.0, c['classes'], correct_lam=c['correct_lam'])
        img, label = aug(x, d['labels'])
        out['img.%d' % i] = img
        out['label.%d' % i] = label
        out['loss.%d' % i] = label_smooth_loss(d['scores'], label, c['eps'], c['classes'])
        if aug.__class__ is BatchCutMixLayer:
            out['box.%d' % i] = torch.tensor(aug.last[0], dtype=torch.int64)
            out['lam.%d' % i] = torch.tensor(float(aug.last[1]), dtype=torch.float64)
    out['loss_hard'] = label_smooth_loss(d['scores'], d['labels'], 0.1, d['scores'].shape[1])
    torch.save(out, sys.argv[3])


if __name__ == '__main__':
    main()
