"""SMT, Scale-Aware Modulation Transformer (Lin et al., ICCV 2023), in the form of the official
classification and detection / segmentation code (AFeng-x/SMT: ``models/smt.py``,
``detection/mmdet/models/backbones/smt.py``).

Stages 1-2 use scale-aware modulation (SAM): multi-head mixed convolution (the channels split into
``ca_num_heads`` heads, head i filtered by a depth-wise conv of kernel 3 + 2i), scale-aware
aggregation (channels re-interleaved so each group of a grouped 1x1 conv sees one channel of every
head, then BN, GELU and a 1x1 conv), and the result modulates a linear value projection. Stage 3
alternates SAM and multi-head self-attention blocks (the evolutionary hybrid network); stage 4 is
attention only. The attention adds a 3x3 depth-wise conv of V; the MLP has a residual 3x3
depth-wise conv after fc1. A conv stem (3x3 or 7x7 stride-2 conv, BN, ReLU, 2x2 stride-2 conv) and
3x3 stride-2 overlapping patch embeddings downsample; every stage ends in a LayerNorm, whose
output is both the stage's feature map and the next stage's input.

Any input size: the stem's 2x2 stride-2 conv gets its input zero-padded to even size (the official
code drops the last row/column there instead), so stage ``i`` has ``ceil(H / 2 ** (i + 2))`` rows;
for inputs whose first conv output is even (H % 4 in {0, 3}) this equals the official network.

Parameter names are the official ones; ``convert_smt_checkpoint`` drops the classifier head and
accepts both names the official code has used for the attention's depth-wise conv
(``attn.local_conv`` in the classification code, ``attn.dw_conv`` in the dense code).
"""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import ConvMlp, DropPath, attention, drop_path_rates, maybe_checkpoint
from ..layers.weight_init import init_conv_fan_out_, init_linear_and_layernorm_
from ..layers.shape import depthwise_conv_channels_last, map_to_tokens, tokens_to_map
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class ResidualConvMlp(ConvMlp):
    """fc1 -> act(x + dwconv3x3(x)) -> fc2: the MLP of SMT (the depth-wise conv is residual)."""

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        x = self.fc1(x)
        x = x + map_to_tokens(depthwise_conv_channels_last(self.dwconv, tokens_to_map(x, hw)))
        x = self.drop(self.act(x))
        return self.drop(self.fc2(x))


class ScaleAwareModulation(nn.Module):
    """SAM: ``proj(v(x) * SAA(MHMC(s(x))))`` on tokens."""

    def __init__(self, dim: int, ca_num_heads: int = 4, qkv_bias: bool = True, proj_drop: float = 0.0,
                 expand_ratio: int = 2):
        super().__init__()
        if dim % ca_num_heads:
            raise ValueError(f'dim={dim} is not divisible by ca_num_heads={ca_num_heads}')
        self.heads = ca_num_heads
        c = dim // ca_num_heads
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.s = nn.Linear(dim, dim, bias=qkv_bias)
        for i in range(ca_num_heads):  # multi-head mixed convolution: kernel 3, 5, 7, ... per head
            self.add_module(f'local_conv_{i + 1}', nn.Conv2d(c, c, 3 + 2 * i, padding=1 + i, groups=c))
        self.proj0 = nn.Conv2d(dim, dim * expand_ratio, 1, groups=c)  # each group: one channel per head
        self.bn = nn.BatchNorm2d(dim * expand_ratio)
        self.act = nn.GELU()
        self.proj1 = nn.Conv2d(dim * expand_ratio, dim, 1)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        B, N, C = x.shape
        # each head's slice of s as its own product: contiguous, so its conv runs channels-last
        w, b, c = self.s.weight, self.s.bias, C // self.heads
        s = [map_to_tokens(depthwise_conv_channels_last(
            getattr(self, f'local_conv_{i + 1}'),
            tokens_to_map(F.linear(x, w[i * c:(i + 1) * c], None if b is None else b[i * c:(i + 1) * c]), hw)))
            for i in range(self.heads)]
        # channel c * heads + i: channel c of head i (the interleave of SAA)
        s = tokens_to_map(torch.stack(s, dim=-1).reshape(B, N, C), hw)
        s = self.proj1(self.act(self.bn(self.proj0(s))))
        return self.proj_drop(self.proj(self.v(x) * map_to_tokens(s)))


class ConvPosAttention(nn.Module):
    """Global multi-head self-attention with a 3x3 depth-wise conv of V added to its output."""

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = True, qk_scale=None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim={dim} is not divisible by sa_num_heads={num_heads}')
        self.num_heads, self.scale, self.attn_drop = num_heads, qk_scale, attn_drop
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.local_conv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        B, N, C = x.shape
        m = self.num_heads
        q = self.q(x).reshape(B, N, m, C // m).transpose(1, 2)
        w, b = self.kv.weight, self.kv.bias  # k and v as two products: v contiguous for its conv
        k, v = (F.linear(x, w[i * C:(i + 1) * C], None if b is None else b[i * C:(i + 1) * C]) for i in (0, 1))
        pos = map_to_tokens(depthwise_conv_channels_last(self.local_conv, tokens_to_map(v, hw)))
        k, v = (t.reshape(B, N, m, C // m).transpose(1, 2) for t in (k, v))
        y = attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale)
        y = y.transpose(1, 2).reshape(B, N, C) + pos
        return self.proj_drop(self.proj(y))


class SMTBlock(nn.Module):
    """``x + attn(norm1(x))``; ``x + mlp(norm2(x))`` with SAM or self-attention as ``attn``."""

    def __init__(self, dim, ca_num_heads, sa_num_heads, use_sam, mlp_ratio=4.0, qkv_bias=True, qk_scale=None,
                 drop=0.0, attn_drop=0.0, drop_path=0.0, drop_path_as_dropout=False, expand_ratio=2):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if use_sam:
            self.attn = ScaleAwareModulation(dim, ca_num_heads, qkv_bias, drop, expand_ratio)
        else:
            self.attn = ConvPosAttention(dim, sa_num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = ResidualConvMlp(dim, int(dim * mlp_ratio), drop=drop)
        if drop_path <= 0:
            self.drop_path = nn.Identity()
        else:  # the official dense code applies element-wise dropout at the drop-path rate
            self.drop_path = nn.Dropout(drop_path) if drop_path_as_dropout else DropPath(drop_path)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.mlp(self.norm2(x), hw))


class ConvStem(nn.Module):
    """Conv(k, stride 2, no bias) -> BN -> ReLU -> Conv(2x2, stride 2) -> LayerNorm: stride 4."""

    def __init__(self, in_channels: int, dim: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, dim, kernel_size, 2, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(dim), nn.ReLU(inplace=True), nn.Conv2d(dim, dim, 2, 2))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor):
        conv, bn, act, down = self.conv
        x = act(bn(conv(x)))
        x = down(F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2)))
        return self.norm(map_to_tokens(x)), tuple(x.shape[-2:])


class OverlapPatchEmbed(nn.Module):
    """3x3 stride-2 conv (padding 1) -> LayerNorm; ``(B, C, H, W)`` -> tokens and ``(H', W')``."""

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 3, 2, padding=1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor):
        x = self.proj(x)
        return self.norm(map_to_tokens(x)), tuple(x.shape[-2:])


@MODELS.register_module()
class SMT(BaseBackbone):
    """SMT backbone.

    Args:
        arch: 't' | 's' | 'b' | 'l' (or 'tiny', ...) or a dict with ``embed_dims``, ``depths``,
            ``mlp_ratios``, ``head_conv`` (optional ``ca_num_heads`` (4, 4, 4, -1),
            ``sa_num_heads`` (-1, -1, 8, 16), ``ca_attentions`` (1, 1, 1, 0): 1 = SAM blocks; in
            the third stage every second block is attention regardless, as in the paper's
            evolutionary hybrid network).
        in_channels: input image channels.
        qkv_bias, qk_scale: of the value/modulator and attention projections.
        expand_ratio: channel expansion of the scale-aware aggregation.
        drop_rate, attn_drop_rate: dropout after projections / on attention weights.
        drop_path_rate: stochastic depth, linearly increasing over all blocks.
        drop_path_as_dropout: apply element-wise dropout at the drop-path rates instead of
            stochastic depth, as the official detection/segmentation code does (``nn.Dropout``
            there); the classification code and the paper use stochastic depth (default).
        out_indices: stages whose (LayerNorm-ed) features are returned (strides 4, 8, 16, 32).
        frozen_stages: -1 trains all; 0 freezes the stem (``patch_embed1``); k > 0 freezes the
            first k stages, each with its opening patch embedding and closing norm
            (``patch_embed1..k``, ``block1..k``, ``norm1..k``).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official checkpoints
            (classification and dense) are converted on load.
    """

    converter = 'convert_smt_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    _default = dict(ca_num_heads=(4, 4, 4, -1), sa_num_heads=(-1, -1, 8, 16), ca_attentions=(1, 1, 1, 0))
    arch_zoo = {
        'tiny': dict(embed_dims=(64, 128, 256, 512), depths=(2, 2, 8, 1), mlp_ratios=(4, 4, 4, 2),
                     head_conv=3),
        'small': dict(embed_dims=(64, 128, 256, 512), depths=(3, 4, 18, 2), mlp_ratios=(4, 4, 4, 2),
                      head_conv=3),
        'base': dict(embed_dims=(64, 128, 256, 512), depths=(4, 6, 28, 2), mlp_ratios=(8, 6, 4, 2),
                     head_conv=7),
        'large': dict(embed_dims=(96, 192, 384, 768), depths=(4, 6, 28, 4), mlp_ratios=(8, 6, 4, 2),
                      head_conv=7),
    }
    arch_zoo.update({k[0]: v for k, v in list(arch_zoo.items())})

    def __init__(self, arch='tiny', in_channels=3, qkv_bias=True, qk_scale=None, expand_ratio=2,
                 drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0, drop_path_as_dropout=False,
                 out_indices=(0, 1, 2, 3), frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = dict(self._default, **resolve_arch(arch, self.arch_zoo,
                                                 ('embed_dims', 'depths', 'mlp_ratios', 'head_conv'), 'SMT'))
        dims, depths = tuple(cfg['embed_dims']), tuple(cfg['depths'])
        self.num_stages = len(depths)
        for name in ('embed_dims', 'mlp_ratios', 'ca_num_heads', 'sa_num_heads', 'ca_attentions'):
            if len(cfg[name]) != self.num_stages:
                raise ValueError(f'SMT: {name} {tuple(cfg[name])} must have one entry per stage '
                                 f'({self.num_stages})')
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'SMT')
        self.frozen_stages, self.with_cp = frozen_stages, with_cp
        self.num_features = list(dims)
        dpr = drop_path_rates(drop_path_rate, depths)
        for i in range(self.num_stages):
            embed = (ConvStem(in_channels, dims[0], cfg['head_conv']) if i == 0 else
                     OverlapPatchEmbed(dims[i - 1], dims[i]))
            blocks = nn.ModuleList([
                SMTBlock(dims[i], cfg['ca_num_heads'][i], cfg['sa_num_heads'][i],
                         use_sam=bool(cfg['ca_attentions'][i]) and not (i == 2 and j % 2),
                         mlp_ratio=cfg['mlp_ratios'][i], qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop_rate,
                         attn_drop=attn_drop_rate, drop_path=dpr[i][j],
                         drop_path_as_dropout=drop_path_as_dropout, expand_ratio=expand_ratio)
                for j in range(depths[i])
            ])
            self.add_module(f'patch_embed{i + 1}', embed)
            self.add_module(f'block{i + 1}', blocks)
            self.add_module(f'norm{i + 1}', nn.LayerNorm(dims[i], eps=1e-6))
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init; convs: normal with std sqrt(2 / fan_out)
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init_conv_fan_out_(m)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed1)
        for i in range(1, min(self.frozen_stages, self.num_stages) + 1):
            for name in (f'patch_embed{i}', f'block{i}', f'norm{i}'):
                freeze(getattr(self, name))

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(1, self.num_stages + 1):
            x, hw = getattr(self, f'patch_embed{i}')(x)
            for blk in getattr(self, f'block{i}'):
                x = maybe_checkpoint(blk, x, hw, enabled=self.with_cp)
            x = tokens_to_map(getattr(self, f'norm{i}')(x), hw).contiguous()
            if i - 1 in self.out_indices:
                outs.append(x)
        return tuple(outs)


# ----------------------------------------------------------------------------- checkpoint conversion

def convert_smt_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official SMT checkpoint (ImageNet release ``{'model': ...}`` or the official
    detection / segmentation checkpoints, whose ``backbone.`` prefix the loader strips) to this
    module's names: the classifier ``head`` is dropped, ``attn.dw_conv`` (dense code) becomes
    ``attn.local_conv`` (classification code) and the MLP's ``dwconv.dwconv`` becomes ``dwconv``."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith('head.'):
            continue
        k = k.replace('.attn.dw_conv.', '.attn.local_conv.')
        out[k.replace('.mlp.dwconv.dwconv.', '.mlp.dwconv.')] = v
    return out
