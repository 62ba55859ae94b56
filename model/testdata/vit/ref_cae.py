"""Plain-PyTorch reference for flowssl's CAE, written from MMSelfSup 0.9.0
(algorithms/cae.py, backbones/cae_vit.py, necks/cae_neck.py,
heads/cae_head.py, utils/transformer_blocks.py, utils/dall_e.py) with the
same module names, so the state_dict keys are theirs.

usage: ref_cae.py CFG.json IN.pth WEIGHTS.pth OUT.pth KEYS.txt
IN.pth (img, img_t, mask) and WEIGHTS.pth are written by the Go test;
OUT.pth receives the reference tensors of one forward_train."""
import json
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit('/', 1)[0])
from ref_vit import FFN, PatchEmbed, load, sincos  # noqa: E402


class MultiheadAttention(nn.Module):
    """MMSelfSup's: bias-free qkv plus q_bias, v_bias (k bias 0)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.scale = self.hd ** -0.5
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias).reshape(B, N, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, dim, heads, hid, eps, init_values):
        super().__init__()
        self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
        self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))
        self.ln1 = nn.LayerNorm(dim, eps=eps)
        self.attn = MultiheadAttention(dim, heads)
        self.ln2 = nn.LayerNorm(dim, eps=eps)
        self.ffn = FFN(dim, hid)

    def forward(self, x):
        x = x + self.gamma_1 * self.attn(self.ln1(x))
        return x + self.gamma_2 * self.ffn(self.ln2(x))


class CAEViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c['embed_dims']
        self.num_patches = (c['img_size'] // c['patch_size']) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, D), requires_grad=False)
        self.patch_embed = PatchEmbed(3, D, c['patch_size'])
        self.layers = nn.ModuleList([TransformerEncoderLayer(D, c['num_heads'], c['ffn'], 1e-6, c['init_values'])
                                     for _ in range(c['num_layers'])])
        self.ln1 = nn.LayerNorm(D, eps=1e-6)

    def forward(self, img, mask):
        x, _ = self.patch_embed(img)
        B, _, D = x.size()
        x = torch.cat((self.cls_token.expand(B, -1, -1), x[~mask].reshape(B, -1, D)), dim=1)
        pos = self.pos_embed.expand(B, self.num_patches + 1, D)
        pos = torch.cat((pos[:, :1], pos[:, 1:][~mask].reshape(B, -1, D)), dim=1)
        x = x + pos
        for layer in self.layers:
            x = layer(x)
        return self.ln1(x)


class CrossMultiheadAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, k, v):
        B, N, _ = x.shape
        q = F.linear(x, self.q.weight, self.q_bias)
        k = F.linear(k, self.k.weight, torch.zeros_like(self.v_bias))
        v = F.linear(v, self.v.weight, self.v_bias)
        q = q.reshape(B, N, 1, self.heads, -1).permute(2, 0, 3, 1, 4).squeeze(0)
        k = k.reshape(B, k.shape[1], 1, self.heads, -1).permute(2, 0, 3, 1, 4).squeeze(0)
        v = v.reshape(B, v.shape[1], 1, self.heads, -1).permute(2, 0, 3, 1, 4).squeeze(0)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, -1))


class CAETransformerRegressorLayer(nn.Module):
    def __init__(self, dim, heads, hid, init_values):
        super().__init__()
        self.norm1_q_cross = nn.LayerNorm(dim, eps=1e-6)
        self.norm1_k_cross = nn.LayerNorm(dim, eps=1e-6)
        self.norm1_v_cross = nn.LayerNorm(dim, eps=1e-6)
        self.norm2_cross = nn.LayerNorm(dim, eps=1e-6)
        self.cross_attn = CrossMultiheadAttention(dim, heads)
        self.ffn = FFN(dim, hid)
        self.gamma_1_cross = nn.Parameter(init_values * torch.ones(dim))
        self.gamma_2_cross = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x_q, x_kv, pos_q, pos_k):
        x = x_q + self.gamma_1_cross * self.cross_attn(self.norm1_q_cross(x_q + pos_q),
                                                       self.norm1_k_cross(x_kv + pos_k), self.norm1_v_cross(x_kv))
        x = self.norm2_cross(x)
        return x + self.gamma_2_cross * self.ffn(x)


class CAENeck(nn.Module):
    def __init__(self, c):
        super().__init__()
        D, H, hid, iv = c['embed_dims'], c['num_heads'], c['ffn'], c['init_values']
        self.K = c['mask_tokens_num']
        self.regressors = nn.ModuleList([CAETransformerRegressorLayer(D, H, hid, iv) for _ in range(c['reg_depth'])])
        self.decoders = nn.ModuleList([TransformerEncoderLayer(D, H, hid, 1e-6, iv) for _ in range(c['dec_depth'])])
        self.norm_regressor = nn.LayerNorm(D, eps=1e-6)
        self.norm_decoder = nn.LayerNorm(D, eps=1e-6)
        self.head = nn.Linear(D, c['vocab'])
        self.mask_token = nn.Parameter(torch.zeros(1, 1, D))

    def forward(self, x_unmasked, pos_masked, pos_unmasked):
        x = self.mask_token.expand(x_unmasked.shape[0], self.K, -1)
        for r in self.regressors:
            x = r(x, torch.cat([x_unmasked, x], dim=1), pos_masked, torch.cat([pos_unmasked, pos_masked], dim=1))
        latent = self.norm_regressor(x)
        x = latent + pos_masked
        for d in self.decoders:
            x = d(x)
        return self.head(self.norm_decoder(x)), latent


class Conv2d(nn.Module):
    def __init__(self, n_in, n_out, kw):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(n_out, n_in, kw, kw))
        self.b = nn.Parameter(torch.zeros(n_out))
        self.kw = kw

    def forward(self, x):
        return F.conv2d(x, self.w, self.b, padding=(self.kw - 1) // 2)


class EncoderBlock(nn.Module):
    def __init__(self, n_in, n_out, n_layers):
        super().__init__()
        n_hid = n_out // 4
        self.post_gain = 1 / (n_layers ** 2)
        self.id_path = Conv2d(n_in, n_out, 1) if n_in != n_out else nn.Identity()
        self.res_path = nn.Sequential(OrderedDict([
            ('relu_1', nn.ReLU()), ('conv_1', Conv2d(n_in, n_hid, 3)),
            ('relu_2', nn.ReLU()), ('conv_2', Conv2d(n_hid, n_hid, 3)),
            ('relu_3', nn.ReLU()), ('conv_3', Conv2d(n_hid, n_hid, 3)),
            ('relu_4', nn.ReLU()), ('conv_4', Conv2d(n_hid, n_out, 1))]))

    def forward(self, x):
        return self.id_path(x) + self.post_gain * self.res_path(x)


class Encoder(nn.Module):
    def __init__(self, n_hid, n_blk, vocab):
        super().__init__()
        L = 4 * n_blk

        def group(n_in, n_out, pool):
            items = [(f'block_{i + 1}', EncoderBlock(n_in if i == 0 else n_out, n_out, L)) for i in range(n_blk)]
            if pool:
                items.append(('pool', nn.MaxPool2d(kernel_size=2)))
            return nn.Sequential(OrderedDict(items))
        self.blocks = nn.Sequential(OrderedDict([
            ('input', Conv2d(3, n_hid, 7)),
            ('group_1', group(n_hid, n_hid, True)),
            ('group_2', group(n_hid, 2 * n_hid, True)),
            ('group_3', group(2 * n_hid, 4 * n_hid, True)),
            ('group_4', group(4 * n_hid, 8 * n_hid, False)),
            ('output', nn.Sequential(OrderedDict([('relu', nn.ReLU()), ('conv', Conv2d(8 * n_hid, vocab, 1))])))]))

    def forward(self, x):
        return self.blocks(x)


class CAEHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.encoder = Encoder(c['n_hid'], c['n_blk'], c['vocab'])
        self.lambd = c['lambd']

    def forward(self, img_target, outputs, latent_pred, latent_target, mask):
        with torch.no_grad():
            target = torch.argmax(self.encoder(img_target), dim=1).flatten(1)
        target = target[mask]
        main = F.cross_entropy(outputs, target)
        align = F.mse_loss(latent_pred, latent_target.detach()) * self.lambd
        return {'loss': main + align, 'main': main, 'align': align, 'target': target}


class CAE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.backbone = CAEViT(c)
        self.teacher = CAEViT(c)
        self.neck = CAENeck(c)
        self.head = CAEHead(c)
        self.momentum = c['momentum']
        self.mean = torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)
        self.std = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)

    def forward_train(self, img, img_target, mask, r):
        img = (img - self.mean) / self.std
        img_target = 0.8 * img_target + 0.1
        mask = mask.flatten(1).to(torch.bool)
        unmasked = self.backbone(img, mask)
        with torch.no_grad():
            latent_target = self.teacher(img, ~mask)[:, 1:, :]
            for pb, pt in zip(self.backbone.parameters(), self.teacher.parameters()):
                pt.data = pt.data * self.momentum + pb.data * (1. - self.momentum)
        pos = self.backbone.pos_embed.expand(img.shape[0], -1, -1)
        pm = pos[:, 1:][mask].reshape(img.shape[0], -1, pos.shape[-1])
        pu = pos[:, 1:][~mask].reshape(img.shape[0], -1, pos.shape[-1])
        logits, latent_pred = self.neck(unmasked[:, 1:], pm, pu)
        r['unmasked'], r['latent_target'], r['latent_pred'] = unmasked, latent_target, latent_pred
        r['logits'] = logits
        return self.head(img_target, logits.view(-1, logits.shape[-1]), latent_pred, latent_target, mask)


def main(c, inp, weights, out, keys):
    m = CAE(c)
    with open(keys, 'w') as f:
        f.write('\n'.join(m.state_dict().keys()) + '\n')
    load(m, weights, '')
    io = torch.load(inp)
    r = {'sincos': sincos(c['img_size'] // c['patch_size'], c['img_size'] // c['patch_size'], c['embed_dims'], True)}
    losses = m.forward_train(io['img'], io['img_t'], io['mask'], r)
    losses['loss'].backward()
    r.update({k: v.detach() for k, v in losses.items()})
    r['grad.neck.mask_token'] = m.neck.mask_token.grad
    r['grad.backbone.cls_token'] = m.backbone.cls_token.grad
    r['teacher.layers.0.attn.qkv.weight'] = m.teacher.layers[0].attn.qkv.weight.detach()
    torch.save({k: v.contiguous() for k, v in r.items()}, out)


if __name__ == '__main__':
    main(json.loads(sys.argv[1]), *sys.argv[2:6])
