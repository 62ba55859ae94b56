"""Plain-PyTorch reference for MIMVisionTransformer with use_window
(relative position bias), written from MMSelfSup 0.9.0
mmselfsup/models/utils/transformer_blocks.py (MultiheadAttention,
MultiheadAttentionWithRPE, TransformerEncoderLayer) and
mmselfsup/models/backbones/mim_cls_vit.py, with the same module names so
the state_dict keys (and their order) are MMSelfSup's.

usage: ref_rpe.py CFG.json IN.pth WEIGHTS.pth OUT.pth KEYS.txt
IN.pth holds x (N×3×H×W) and tok (N×(Wh·Ww+1)×D, the attention-block
input); OUT.pth receives attn0 (layers.0.attn on tok), block0 (layers.0 on
tok), out (the backbone output on x) and index (layers.0's buffer)."""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiheadAttentionWithRPE(nn.Module):
    def __init__(self, dim, heads, window_size, qkv_bias=True):
        super().__init__()
        self.num_heads, self.head_dims, self.embed_dims = heads, dim // heads, dim
        self.scale = self.head_dims ** -0.5
        # mmcls's MultiheadAttention registers qkv, proj (children); MMSelfSup
        # replaces qkv and adds q_bias, v_bias, the table and the index.
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.proj = nn.Linear(dim, dim)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = None
            self.v_bias = None
        self.window_size = window_size
        self.num_relative_distance = (2 * window_size[0] - 1) * (2 * window_size[1] - 1) + 3
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(self.num_relative_distance, heads))
        coords_h = torch.arange(window_size[0])
        coords_w = torch.arange(window_size[1])
        coords = torch.stack(torch.meshgrid([coords_h, coords_w], indexing='ij'))
        coords_flatten = torch.flatten(coords, 1)
        relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
        relative_coords = relative_coords.permute(1, 2, 0).contiguous()
        relative_coords[:, :, 0] += window_size[0] - 1
        relative_coords[:, :, 1] += window_size[1] - 1
        relative_coords[:, :, 0] *= 2 * window_size[1] - 1
        relative_position_index = torch.zeros(
            size=(window_size[0] * window_size[1] + 1, ) * 2, dtype=relative_coords.dtype)
        relative_position_index[1:, 1:] = relative_coords.sum(-1)
        relative_position_index[0, 0:] = self.num_relative_distance - 3
        relative_position_index[0:, 0] = self.num_relative_distance - 2
        relative_position_index[0, 0] = self.num_relative_distance - 1
        self.register_buffer('relative_position_index', relative_position_index)

    def forward(self, x):
        qkv_bias = None
        if self.q_bias is not None:
            qkv_bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias, requires_grad=False), self.v_bias))
        B, N, _ = x.shape
        qkv = F.linear(x, weight=self.qkv.weight, bias=qkv_bias).reshape(
            B, N, 3, self.num_heads, self.head_dims).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = (q @ k.transpose(-2, -1))
        rpb = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(
            self.window_size[0] * self.window_size[1] + 1,
            self.window_size[0] * self.window_size[1] + 1, -1)
        rpb = rpb.permute(2, 0, 1).contiguous()
        attn = attn + rpb.unsqueeze(0)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, self.embed_dims)
        return self.proj(x)


class FFN(nn.Module):
    def __init__(self, dim, hid):
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(dim, hid), nn.GELU(), nn.Dropout(0.)),
                                    nn.Linear(hid, dim), nn.Dropout(0.))

    def forward(self, x):
        return self.layers(x)


class TransformerEncoderLayer(nn.Module):
    def __init__(self, dim, heads, hid, eps, window, init_values):
        super().__init__()
        if init_values > 0:
            self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
            self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))
        else:
            self.gamma_1 = self.gamma_2 = None
        self.ln1 = nn.LayerNorm(dim, eps=eps)
        self.attn = MultiheadAttentionWithRPE(dim, heads, window)
        self.ln2 = nn.LayerNorm(dim, eps=eps)
        self.ffn = FFN(dim, hid)

    def forward(self, x):
        if self.gamma_1 is not None:
            x = x + self.gamma_1 * self.attn(self.ln1(x))
            return x + self.gamma_2 * self.ffn(self.ln2(x))
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, p):
        super().__init__()
        self.projection = nn.Conv2d(cin, dim, p, p)

    def forward(self, x):
        return self.projection(x).flatten(2).transpose(1, 2)


class MIMVisionTransformer(nn.Module):
    """final_norm False: fc_norm over the mean of the patch tokens."""

    def __init__(self, c):
        super().__init__()
        D, p, g = c['embed_dims'], c['patch_size'], c['img_size'] // c['patch_size']
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, g * g + 1, D))
        self.patch_embed = PatchEmbed(3, D, p)
        self.layers = nn.ModuleList([
            TransformerEncoderLayer(D, c['num_heads'], c['ffn'], c['eps'], (g, g), c['init_values'])
            for _ in range(c['num_layers'])])
        self.fc_norm = nn.LayerNorm(D, eps=c['eps'])

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        for layer in self.layers:
            x = layer(x)
        return self.fc_norm(x[:, 1:, :].mean(dim=1))


def main():
    c = json.loads(sys.argv[1])
    inp, weights, out, keys = sys.argv[2:6]
    m = MIMVisionTransformer(c)
    with open(keys, 'w') as f:
        f.write('\n'.join(m.state_dict().keys()) + '\n')
    sd = torch.load(weights)['state_dict']
    index = m.layers[0].attn.relative_position_index.clone()
    m.load_state_dict(sd, strict=True)
    m.eval()
    x = torch.load(inp)
    with torch.no_grad():
        r = {'attn0': m.layers[0].attn(x['tok']), 'block0': m.layers[0](x['tok']),
             'out': m(x['x']), 'index': index}
    torch.save(r, out)


if __name__ == '__main__':
    main()
