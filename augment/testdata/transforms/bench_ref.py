"""Throughput of MMSelfSup's MoCo v2 / SimCLR two-view pipelines on torchvision 0.14 + Pillow,
one process, for comparison with BenchmarkMoCoV2Views / BenchmarkSimCLRViews.

Usage: bench_ref.py IMAGE.jpg [N]   (prints images/s for each pipeline)
GaussianBlur, Solarization-free; the blur and RandomAppliedTrans bodies are MMSelfSup's.
"""
import io
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image, ImageFilter


class GaussianBlur:
    def __init__(self, sigma_min, sigma_max, p=0.5):
        self.sigma_min, self.sigma_max, self.p = sigma_min, sigma_max, p

    def __call__(self, img):
        if np.random.rand() > self.p:
            return img
        return img.filter(ImageFilter.GaussianBlur(radius=np.random.uniform(self.sigma_min, self.sigma_max)))


norm = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
PIPES = {
    "mocov2": T.Compose([
        T.RandomResizedCrop(224, scale=(0.2, 1.0)),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(0.2),
        GaussianBlur(0.1, 2.0, 0.5),
        T.RandomHorizontalFlip(),
        T.ToTensor(), norm]),
    "simclr": T.Compose([
        T.RandomResizedCrop(224),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
        T.RandomGrayscale(0.2),
        GaussianBlur(0.1, 2.0, 0.5),
        T.ToTensor(), norm]),
}


def main():
    torch.set_num_threads(1)
    data = open(sys.argv[1], "rb").read()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    for name, pipe in PIPES.items():
        t0 = time.perf_counter()
        for _ in range(n):
            img = Image.open(io.BytesIO(data)).convert("RGB")
            _ = [pipe(img), pipe(img)]
        dt = time.perf_counter() - t0
        print(f"{name}: {n / dt:.1f} images/s (2 views each)")


if __name__ == "__main__":
    main()
