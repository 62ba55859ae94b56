"""Plain-PyTorch references for flowssl's transformer backbones, written
from mmcls 0.23 / mmcv 1.5 / MMSelfSup 0.9.0 (same module names, so the
state_dict keys are theirs).

usage: ref_vit.py vit  CFG.json IN.pth WEIGHTS.pth OUT.pth KEYS.txt
       ref_vit.py mae  CFG.json IN.pth WEIGHTS.pth OUT.pth KEYS.txt
       ref_vit.py swin CFG.json IN.pth WEIGHTS.pth OUT.pth KEYS.txt
IN.pth and WEIGHTS.pth are written by the Go test; OUT.pth receives the
reference tensors."""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, p, norm_eps=None):
        super().__init__()
        self.projection = nn.Conv2d(cin, dim, p, p)
        self.norm = nn.LayerNorm(dim, eps=norm_eps) if norm_eps else None
        self.p = p

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        ph, pw = (-h) % self.p, (-w) % self.p
        x = F.pad(x, (0, pw, 0, ph))
        x = self.projection(x)
        hw = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, hw


class MultiheadAttention(nn.Module):
    def __init__(self, dim, heads, qkv_bias=True):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.scale = self.hd ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class FFN(nn.Module):
    def __init__(self, dim, hid):
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(dim, hid), nn.GELU(), nn.Dropout(0.)),
                                    nn.Linear(hid, dim), nn.Dropout(0.))

    def forward(self, x):
        return self.layers(x)


class TransformerEncoderLayer(nn.Module):
    def __init__(self, dim, heads, hid, eps, qkv_bias=True):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim, eps=eps)
        self.attn = MultiheadAttention(dim, heads, qkv_bias)
        self.ln2 = nn.LayerNorm(dim, eps=eps)
        self.ffn = FFN(dim, hid)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


def resize_pos_embed(pos, src, dst, extra=1):
    if tuple(src) == tuple(dst):
        return pos
    C = pos.shape[2]
    ex, w = pos[:, :extra], pos[:, extra:]
    w = w.reshape(1, src[0], src[1], C).permute(0, 3, 1, 2)
    w = F.interpolate(w, size=dst, align_corners=False, mode='bicubic')
    return torch.cat((ex, w.flatten(2).transpose(1, 2)), dim=1)


class ViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c['embed_dims']
        self.res = (c['img_size'] // c['patch_size'],) * 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.res[0] * self.res[1] + 1, D))
        self.patch_embed = PatchEmbed(3, D, c['patch_size'])
        self.layers = nn.ModuleList([TransformerEncoderLayer(D, c['num_heads'], c['ffn'], c['eps'])
                                     for _ in range(c['num_layers'])])
        self.ln1 = nn.LayerNorm(D, eps=c['eps'])
        self.out_indices = c['out_indices']

    def forward(self, x):
        B = x.shape[0]
        x, hw = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.res, hw)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1:
                x = self.ln1(x)
            if i in self.out_indices:
                C = x.shape[2]
                outs += [x[:, 1:].reshape(B, *hw, C).permute(0, 3, 1, 2), x[:, 0]]
        return outs


class MAEViT(ViT):
    def forward(self, x, noise, mask_ratio):
        x, _ = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:, :]
        N, L, D = x.shape
        keep = int(L * (1 - mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        x = torch.gather(x, dim=1, index=ids_shuffle[:, :keep].unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones([N, L])
        mask[:, :keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(N, -1, -1)
        x = torch.cat((cls, x), dim=1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
        return self.ln1(x), mask, ids_restore


class MAEPretrainDecoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        L, E, Dd = c['num_patches'], c['embed_dims'], c['dec_dim']
        self.decoder_embed = nn.Linear(E, Dd, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, L + 1, Dd), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([TransformerEncoderLayer(Dd, c['dec_heads'], 4 * Dd, 1e-6)
                                             for _ in range(c['dec_depth'])])
        self.ln1 = nn.LayerNorm(Dd, eps=1e-6)
        self.decoder_pred = nn.Linear(Dd, c['patch_size'] ** 2 * 3, bias=True)

    def forward(self, x, ids_restore):
        x = self.decoder_embed(x)
        mt = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mt], dim=1)
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.ln1(x))[:, 1:, :]


def mae_loss(img, pred, mask, p, norm_pix):
    h = w = img.shape[2] // p
    t = img.reshape(img.shape[0], 3, h, p, w, p)
    t = torch.einsum('nchpwq->nhwpqc', t).reshape(img.shape[0], h * w, p * p * 3)
    if norm_pix:
        t = (t - t.mean(dim=-1, keepdim=True)) / (t.var(dim=-1, keepdim=True) + 1.e-6) ** .5
    loss = ((pred - t) ** 2).mean(dim=-1)
    return (loss * mask).sum() / mask.sum()


def sincos(h, w, D, cls):
    gw, gh = torch.meshgrid(torch.arange(w, dtype=torch.float32), torch.arange(h, dtype=torch.float32))
    P = D // 4
    om = 1. / (10000. ** (torch.arange(P, dtype=torch.float32) / P))
    ow, oh = torch.einsum('m,d->md', [gw.flatten(), om]), torch.einsum('m,d->md', [gh.flatten(), om])
    pe = torch.cat([torch.sin(ow), torch.cos(ow), torch.sin(oh), torch.cos(oh)], dim=1)[None]
    if cls:
        pe = torch.cat([torch.zeros([1, 1, D]), pe], dim=1)
    return pe


def load(m, weights, prefix):
    sd = torch.load(weights)['state_dict']
    m.load_state_dict({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}, strict=True)


def vit(c, inp, weights, out, keys):
    m = ViT(c)
    with open(keys, 'w') as f:
        f.write('\n'.join(m.state_dict().keys()) + '\n')
    load(m, weights, '')
    io = torch.load(inp)
    r = {'sincos': sincos(m.res[0], m.res[1], c['embed_dims'], True)}
    with torch.no_grad():
        for name in ('x', 'x_big'):
            for i, o in enumerate(m(io[name])):
                r[f'{name}.{i}'] = o.contiguous()
    torch.save(r, out)


def mae(c, inp, weights, out, keys):
    enc, dec = MAEViT(c), MAEPretrainDecoder(c)
    with open(keys, 'w') as f:
        f.write('\n'.join(['backbone.' + k for k in enc.state_dict()] + ['neck.' + k for k in dec.state_dict()]) + '\n')
    load(enc, weights, 'backbone.')
    load(dec, weights, 'neck.')
    io = torch.load(inp)
    with torch.no_grad():
        lat, mask, ids = enc(io['x'], io['noise'], c['mask_ratio'])
        pred = dec(lat, ids)
        r = {'latent': lat, 'mask': mask, 'ids_restore': ids, 'pred': pred,
             'loss': mae_loss(io['x'], pred, mask, c['patch_size'], True),
             'loss_raw': mae_loss(io['x'], pred, mask, c['patch_size'], False),
             'dec_sincos': sincos(c['grid'], c['grid'], c['dec_dim'], True)}
    torch.save(r, out)


class WindowMSA(nn.Module):
    def __init__(self, dim, ws, heads):
        super().__init__()
        self.ws, self.heads = ws, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        seq1 = torch.arange(0, (2 * ws - 1) * ws, 2 * ws - 1)
        seq2 = torch.arange(0, ws, 1)
        c = (seq1[:, None] + seq2[None, :]).reshape(1, -1)
        self.register_buffer('relative_position_index', (c + c.T).flip(1).contiguous())
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        B_, N, C = x.shape
        qkv = self.qkv(x).reshape(B_, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(N, N, -1)
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, self.heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, N, N)
        attn = attn.softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B_, N, C))


def window_partition(x, ws):
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)


def window_reverse(w, H, W, ws):
    B = int(w.shape[0] / (H * W / ws / ws))
    x = w.view(B, H // ws, W // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)


def attn_mask(hw, ws, shift):
    if shift == 0:
        return None
    img = torch.zeros(1, *hw, 1)
    sl = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    cnt = 0
    for h in sl:
        for w in sl:
            img[:, h, w, :] = cnt
            cnt += 1
    mw = window_partition(img, ws).view(-1, ws * ws)
    m = mw.unsqueeze(1) - mw.unsqueeze(2)
    return m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0)


class ShiftWindowMSA(nn.Module):
    def __init__(self, dim, heads, ws, shift):
        super().__init__()
        self.ws, self.shift = ws, shift
        self.w_msa = WindowMSA(dim, ws, heads)

    def forward(self, q, hw):
        B, L, C = q.shape
        H, W = hw
        q = q.view(B, H, W, C)
        ws, shift = self.ws, self.shift
        if min(H, W) == ws:
            shift = 0
        pr, pb = (ws - W % ws) % ws, (ws - H % ws) % ws
        q = F.pad(q, (0, 0, 0, pr, 0, pb))
        Hp, Wp = q.shape[1], q.shape[2]
        if shift > 0:
            q = torch.roll(q, shifts=(-shift, -shift), dims=(1, 2))
        m = attn_mask((Hp, Wp), ws, shift)
        w = window_partition(q, ws).view(-1, ws ** 2, C)
        w = self.w_msa(w, mask=m).view(-1, ws, ws, C)
        x = window_reverse(w, Hp, Wp, ws)
        if shift > 0:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        x = x[:, :H, :W, :].contiguous()
        return x.view(B, H * W, C)


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, ws, shift):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftWindowMSA(dim, heads, ws, ws // 2 if shift else 0)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FFN(dim, 4 * dim)

    def forward(self, x, hw):
        x = x + self.attn(self.norm1(x), hw)
        return x + self.ffn(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.sampler = nn.Unfold(2, 1, 0, 2)
        self.norm = nn.LayerNorm(4 * cin)
        self.reduction = nn.Linear(4 * cin, cout, bias=False)

    def forward(self, x, hw):
        B, L, C = x.shape
        H, W = hw
        x = x.view(B, H, W, C).permute([0, 3, 1, 2])
        x = F.pad(x, (0, W % 2, 0, H % 2))
        H, W = x.shape[-2:]
        x = self.sampler(x).transpose(1, 2)
        return self.reduction(self.norm(x)), (H // 2, W // 2)


class Stage(nn.Module):
    def __init__(self, dim, depth, heads, ws, down):
        super().__init__()
        self.blocks = nn.ModuleList([SwinBlock(dim, heads, ws, i % 2 == 1) for i in range(depth)])
        self.downsample = PatchMerging(dim, 2 * dim) if down else None

    def forward(self, x, hw):
        for b in self.blocks:
            x = b(x, hw)
        if self.downsample is not None:
            x, hw = self.downsample(x, hw)
        return x, hw


class SimMIMSwin(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c['embed_dims']
        self.mask_token = nn.Parameter(torch.zeros(1, 1, D))
        self.patch_embed = PatchEmbed(3, D, 4, 1e-5)
        n = len(c['depths'])
        self.stages = nn.ModuleList()
        dims = [D]
        for i in range(n):
            self.stages.append(Stage(dims[-1], c['depths'][i], c['heads'][i], c['window'], i < n - 1))
            dims.append(dims[-1] * 2 if i < n - 1 else dims[-1])
        self.out_indices = c['out_indices']
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(dims[i + 1]))
        self.dims = dims

    def forward(self, x, mask):
        x, hw = self.patch_embed(x)
        B, L, _ = x.shape
        if mask is not None:
            mt = self.mask_token.expand(B, L, -1)
            w = mask.flatten(1).unsqueeze(-1).type_as(mt)
            x = x * (1. - w) + mt * w
        outs = []
        for i, st in enumerate(self.stages):
            x, hw = st(x, hw)
            if i in self.out_indices:
                o = getattr(self, f'norm{i}')(x)
                outs.append(o.view(-1, *hw, self.dims[i + 1]).permute(0, 3, 1, 2).contiguous())
        return outs


class SimMIMNeck(nn.Module):
    def __init__(self, cin, stride):
        super().__init__()
        self.decoder = nn.Sequential(nn.Conv2d(cin, stride ** 2 * 3, 1), nn.PixelShuffle(stride))

    def forward(self, x):
        return self.decoder(x)


def simmim_loss(x, rec, mask, p, cin):
    mask = mask.repeat_interleave(p, 1).repeat_interleave(p, 2).unsqueeze(1).contiguous()
    l = F.l1_loss(x, rec, reduction='none')
    return (l * mask).sum() / (mask.sum() + 1e-5) / cin


def swin(c, inp, weights, out, keys):
    b = SimMIMSwin(c)
    n = SimMIMNeck(b.dims[-1], c['stride'])
    with open(keys, 'w') as f:
        f.write('\n'.join(['backbone.' + k for k in b.state_dict()] + ['neck.' + k for k in n.state_dict()]) + '\n')
    load(b, weights, 'backbone.')
    load(n, weights, 'neck.')
    io = torch.load(inp)
    r = {}
    with torch.no_grad():
        for name in ('x', 'x_odd'):
            for i, o in enumerate(b(io[name], None)):
                r[f'{name}.{i}'] = o
        feats = b(io['x'], io['mask'])
        for i, o in enumerate(feats):
            r[f'masked.{i}'] = o
        rec = n(feats[-1])
        r['rec'] = rec
        r['loss'] = simmim_loss(io['x'], rec, io['mask'], c['mask_patch'], 3)
    torch.save(r, out)


if __name__ == '__main__':
    mode, cfg = sys.argv[1], json.loads(sys.argv[2])
    {'vit': vit, 'mae': mae, 'swin': swin}[mode](cfg, *sys.argv[3:7])
