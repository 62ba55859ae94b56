"""PyTorch baseline for scripts/gpu-check.sh: MMSelfSup's MoCo v2 or SimCLR
training step on one GPU (ResNet-50, 224 px) fed end to end by a DataLoader
(torchvision transforms + PIL, pin_memory, the given number of workers) over
a folder of JPEGs, in fp32 or AMP (torch.autocast fp16 + GradScaler, as
mmcv's Fp16OptimizerHook). Prints one line:

  images_per_s=X algo=.. batch=.. amp=.. pipeline=torchvision|pil|synthetic window_ms=START,END

window_ms is the measured window (wall clock, ms since the epoch) so the
caller can average nvidia-smi's utilisation over it. When torchvision or PIL
is missing the input side degrades (and says so in pipeline=).

usage: python3 bench/gpu_baseline.py --data DIR --algo mocov2|simclr --batch 64 --amp fp32|fp16 [--workers 16 --iters 20 --warmup 3]
"""
import argparse
import contextlib
import copy
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'model', 'testdata', 'nets'))
from ref_resnet import ResNet  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def build_dataset(root, algo):
    """(dataset, pipeline name): two augmented 224 px views per image."""
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                   if f.lower().endswith(('.jpg', '.jpeg', '.png')))
    try:
        sys.path.insert(0, HERE)
        from augment_baseline import pipeline  # torchvision + PIL, MMSelfSup's pipelines
        pipe, name = pipeline(algo), 'torchvision'
        from PIL import Image
    except ImportError:
        try:
            from PIL import Image
        except ImportError:
            return None, 'synthetic'
        name = 'pil'

        def pipe(img):
            # RandomResizedCrop(224) + flip + normalise with PIL and torch only.
            w, h = img.size
            s = torch.empty(1).uniform_(0.2, 1.0).item()
            cw, ch = max(1, int(w * s ** 0.5)), max(1, int(h * s ** 0.5))
            x0 = int(torch.randint(0, w - cw + 1, (1,)))
            y0 = int(torch.randint(0, h - ch + 1, (1,)))
            img = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((224, 224), Image.BILINEAR)
            t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(224, 224, 3).permute(2, 0, 1).float() / 255
            if torch.rand(1).item() < 0.5:
                t = t.flip(2)
            return (t - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)

    class Views(torch.utils.data.Dataset):
        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            img = Image.open(files[i]).convert('RGB')
            return pipe(img), pipe(img)

    return Views(), name


class Neck(nn.Module):
    """MoCoV2Neck / NonLinearNeck (with_avg_pool, 2048-2048-128)."""

    def __init__(self, bn):
        super().__init__()
        layers = [nn.Linear(2048, 2048)]
        if bn:
            layers = [nn.Linear(2048, 2048, bias=False), nn.BatchNorm1d(2048)]
        self.mlp = nn.Sequential(*layers, nn.ReLU(inplace=True), nn.Linear(2048, 128))

    def forward(self, x):
        return self.mlp(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--algo', default='mocov2', choices=['mocov2', 'simclr'])
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--amp', default='fp32', choices=['fp32', 'fp16', 'bf16'])
    ap.add_argument('--workers', type=int, default=os.cpu_count())
    ap.add_argument('--iters', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--channels-last', action='store_true')
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    q = nn.Sequential(ResNet(50, out_indices=(4,)), Neck(a.algo == 'simclr')).to(dev, memory_format=fmt)
    k = None
    if a.algo == 'mocov2':
        k = copy.deepcopy(q)
        for p in k.parameters():
            p.requires_grad = False
        queue = F.normalize(torch.randn(128, 65536, device=dev), dim=0)
        ptr = 0
    opt = torch.optim.SGD(q.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    amp_dtype = {'fp16': torch.float16, 'bf16': torch.bfloat16}.get(a.amp)
    scaler = torch.cuda.amp.GradScaler(enabled=a.amp == 'fp16' and dev.type == 'cuda')

    ds, pipe_name = build_dataset(a.data, a.algo)
    need = (a.warmup + a.iters) * a.batch
    if ds is not None:
        loader = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                                             pin_memory=dev.type == 'cuda', drop_last=True,
                                             persistent_workers=a.workers > 0, prefetch_factor=2 if a.workers else None)

        def batches():
            while True:
                yield from loader
    else:
        def batches():
            v = torch.randn(a.batch, 3, 224, 224)
            while True:
                yield v, v

    def encode(enc, x):
        return F.normalize(enc[1](enc[0](x)[0]), dim=1)

    def step(v1, v2):
        nonlocal ptr
        ctx = torch.autocast(dev.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
        with ctx:
            if a.algo == 'mocov2':
                qf = encode(q, v1)
                with torch.no_grad():
                    for pq, pk in zip(q.parameters(), k.parameters()):
                        pk.data.mul_(0.999).add_(pq.data, alpha=0.001)
                    kf = encode(k, v2)
                pos = (qf * kf).sum(1, keepdim=True)
                neg = qf @ queue.clone().detach().to(qf.dtype)
                logits = torch.cat([pos, neg], 1) / 0.2
                loss = F.cross_entropy(logits, torch.zeros(v1.shape[0], dtype=torch.long, device=dev))
            else:
                z = encode(q, torch.cat([v1, v2]))
                n = v1.shape[0]
                sim = z @ z.t() / 0.1
                sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=dev), float('-inf'))
                target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(dev)
                loss = F.cross_entropy(sim, target)
        opt.zero_grad(set_to_none=False)
        _ = loss.item()  # mmcv's parse_losses reads every loss each iteration
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if a.algo == 'mocov2':
            queue[:, ptr:ptr + v1.shape[0]] = kf.detach().float().t()
            ptr = (ptr + v1.shape[0]) % 65536

    it = batches()
    t0 = w0 = None
    for i in range(a.warmup + a.iters):
        if i == a.warmup:
            torch.cuda.synchronize() if dev.type == 'cuda' else None
            t0, w0 = time.perf_counter(), time.time()
        v1, v2 = next(it)
        v1 = v1.to(dev, non_blocking=True, memory_format=fmt)
        v2 = v2.to(dev, non_blocking=True, memory_format=fmt)
        step(v1, v2)
    if dev.type == 'cuda':
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    print(f'images_per_s={a.iters * a.batch / dt:.1f} algo={a.algo} batch={a.batch} amp={a.amp} '
          f'pipeline={pipe_name} workers={a.workers} torch={torch.__version__} '
          f'window_ms={int(w0 * 1000)},{int(time.time() * 1000)} need_images={need}', flush=True)


if __name__ == '__main__':
    main()
