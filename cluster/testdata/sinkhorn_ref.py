# Reference for TestSinkhornMatchesTorch: MMSelfSup v0.9.0's
# distributed_sinkhorn (utils/distributed_sinkhorn.py) with world_size 1,
# rewritten from components.md §6.4. Reads {"scores": B×K, "iters", "eps"}
# as JSON on stdin and prints the B×K assignments as JSON.
import json
import sys

import torch


@torch.no_grad()
def sinkhorn(out, iters, eps, world_size=1):
    q = torch.exp(out / eps).t()
    b = q.shape[1] * world_size
    k = q.shape[0]
    q /= torch.sum(q)
    for _ in range(iters):
        u = torch.sum(q, dim=1, keepdim=True)
        if len(torch.nonzero(u == 0)) > 0:
            q += 1e-12
            u = torch.sum(q, dim=1, keepdim=True, dtype=q.dtype)
        q /= u
        q /= k
        q /= torch.sum(q, dim=0, keepdim=True)
        q /= b
    q *= b
    return q.t()


req = json.load(sys.stdin)
scores = torch.tensor(req["scores"], dtype=torch.float32)
print(json.dumps(sinkhorn(scores, req["iters"], req["eps"]).tolist()))
