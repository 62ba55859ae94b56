"""PyTorch baseline for `flowssl bench augment`: the same pipeline with
torchvision 0.14 + PIL in a DataLoader with the same number of workers,
over the same folder of JPEGs. Prints images_per_s (source images per
second, all views done) and images_per_cpu_s (per second of CPU time used
by the main process and the DataLoader workers together), like flowssl.

usage: /usr/bin/python3 bench/augment_baseline.py --data DIR --pipeline mocov2|simclr|swav --workers N [--seconds S]
"""
import argparse
import os
import time

import torch
from PIL import Image, ImageFilter
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


class GaussianBlur:
    """MMSelfSup's GaussianBlur: PIL's filter with sigma ~ U(min, max), applied with p."""

    def __init__(self, sigma_min, sigma_max, p):
        self.lo, self.hi, self.p = sigma_min, sigma_max, p

    def __call__(self, img):
        if torch.rand(1).item() > self.p:
            return img
        s = self.lo + (self.hi - self.lo) * torch.rand(1).item()
        return img.filter(ImageFilter.GaussianBlur(radius=s))


class Solarization:
    def __init__(self, threshold=128, p=0.2):
        self.t, self.p = threshold, p

    def __call__(self, img):
        if torch.rand(1).item() > self.p:
            return img
        from PIL import ImageOps
        return ImageOps.solarize(img, self.t)


def pipeline(name, size=224, scale=(0.2, 1.0)):
    norm = [T.ToTensor(), T.Normalize(MEAN, STD)]
    if name == 'mocov2':
        return T.Compose([T.RandomResizedCrop(size, scale=scale),
                          T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
                          T.RandomGrayscale(0.2), GaussianBlur(0.1, 2.0, 0.5), T.RandomHorizontalFlip()] + norm)
    if name == 'simclr':
        return T.Compose([T.RandomResizedCrop(size, scale=(0.08, 1.0)), T.RandomHorizontalFlip(),
                          T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
                          T.RandomGrayscale(0.2), GaussianBlur(0.1, 2.0, 0.5)] + norm)
    raise ValueError(name)


class Views(Dataset):
    def __init__(self, root, name):
        self.files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                            if f.lower().endswith(('.jpg', '.jpeg', '.png')))
        if name == 'swav':
            self.pipes = [pipeline('simclr', 224, (0.14, 1.0))] * 2 + [pipeline('simclr', 96, (0.05, 0.14))] * 6
        else:
            self.pipes = [pipeline(name)] * 2

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        img = Image.open(self.files[i]).convert('RGB')
        if not self.pipes:
            return torch.zeros(1)
        return [p(img) for p in self.pipes]


def cpu_seconds(pids):
    """User + system CPU seconds used so far by the processes pids (/proc)."""
    tick = os.sysconf('SC_CLK_TCK')
    total = 0.0
    for pid in pids:
        try:
            with open(f'/proc/{pid}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def loader_pids(dl):
    it = getattr(dl, '_iterator', None)
    return [os.getpid()] + [w.pid for w in getattr(it, '_workers', [])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--pipeline', default='mocov2')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--seconds', type=float, default=20)
    ap.add_argument('--decode-only', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(1)
    ds = Views(a.data, a.pipeline)
    if a.decode_only:
        ds.pipes = []
    dl = DataLoader(ds, batch_size=32, shuffle=True, num_workers=a.workers, drop_last=False,
                    persistent_workers=a.workers > 0)
    n, t0, c0 = 0, None, None
    while True:
        for batch in dl:
            if t0 is None:  # skip the worker start-up and first batch
                t0 = time.perf_counter()
                c0 = cpu_seconds(loader_pids(dl))
                continue
            n += (batch[0] if isinstance(batch, list) else batch).shape[0]
            if time.perf_counter() - t0 >= a.seconds:
                dt = time.perf_counter() - t0
                dc = cpu_seconds(loader_pids(dl)) - c0
                print(f'images_per_s={n / dt:.1f} images_per_cpu_s={n / dc:.1f} pipeline={a.pipeline} '
                      f'workers={a.workers} torch={torch.__version__} decode_only={a.decode_only}')
                return


if __name__ == '__main__':
    main()
