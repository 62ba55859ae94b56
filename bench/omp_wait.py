"""ResNet-18 train step throughput (batch 32, 64 px, 2 intra-op threads): run it once with the
environment as is and once with OMP_WAIT_POLICY=PASSIVE while another CPU job shares the cores
(BENCHMARKS.md, "OpenMP wait policy")."""
import time

import torch
import torchvision

torch.set_num_threads(2)
m = torchvision.models.resnet18()
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
x = torch.randn(32, 3, 64, 64)


def step():
    out = m(x).sum()
    opt.zero_grad()
    out.backward()
    opt.step()


for _ in range(2):
    step()
t = time.time()
for _ in range(5):
    step()
print(f"{32 * 5 / (time.time() - t):.1f} img/s", flush=True)
