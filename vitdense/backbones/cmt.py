"""CMT (Guo et al., CVPR 2022, arXiv 2107.06263), after the official huawei-noah/Efficient-AI-Backbones
``cmt_pytorch/cmt.py`` (the only model code released; classification only).

Stem: three 3x3 convs (the first of stride 2), each followed by GELU then BatchNorm. Each stage opens
with a 2x2/2 conv + LayerNorm (the official ``PatchEmbed``) and runs blocks

    x = x + DW_3x3(x)                                       local perception unit (LPU)
    x = x + drop_path(LMHSA(LN(x)))                         lightweight multi-head self-attention
    x = x + drop_path(IRFFN(LN(x)))                         inverted residual feed-forward network

LMHSA: queries from every token; keys and values from the map reduced by a depth-wise
``sr x sr``/``sr`` conv + BatchNorm (sr = 8, 4, 2, 1 over the stages); ``softmax(q k^T / sqrt(d) + B) v``
with a learned relative position bias ``B`` of shape ``(heads, N_q, N_k)``, one per stage, shared by
its blocks. IRFFN: ``BN(fc2(BN(GELU(h + DW_3x3(h)))))``, ``h = BN(GELU(fc1(x)))`` (1x1 convs).
Block LayerNorms have eps 1e-6, the patch-embedding ones PyTorch's 1e-5.

The bias tables are sized for the pretraining resolution (``img_size``: the official default and
CMT-S's 224; Ti/XS/B were trained and released at 160/192/256, their ``arch_zoo`` default, so each
release loads as it is): stage ``i`` has ``g = img_size / 2**(i+2)`` query rows and columns and
``ceil(g / sr)`` key rows and columns. **Resize rule** for any other input: the table, viewed as
``(heads, g_q, g_q, g_k, g_k)``, is bicubically interpolated (``align_corners=False``) first over the
key grid to the actual ``(h_k, w_k)``, then over the query grid to ``(h, w)``; at the pretraining
size it is used as it is. The same rule resizes a checkpoint's tables on load when ``img_size``
differs (``_adapt_shapes``).

Inputs of any size: the stem's stride-2 conv gives ``ceil(H / 2)``; an odd map is zero-padded at
the bottom/right before each 2x2/2 conv, and the normalised tokens to a multiple of ``sr`` before
the key/value reduction (``ceil(h / sr)`` key rows), so stage ``i`` has ``ceil(H / 2**(i+2))`` rows
and no pixel is dropped. The official code accepts only its ``img_size`` (a multiple of 32) where
both agree.

Dense form (no official dense code exists): the four stage outputs as maps, each through a
channels-first LayerNorm (``norm0..3``; ``out_norm=False`` returns the raw stage outputs). The
classifier (``_fc``, ``_bn``, ``head``) is not part of the backbone and is dropped on load.
"""
import math
import re
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import DropPath, LayerNorm2d, attention, drop_path_rates, maybe_checkpoint
from ..layers.shape import map_to_tokens, tokens_to_map
from ..layers.weight_init import init_linear_and_layernorm_
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


def _pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad a ``(B, C, H, W)`` map at the bottom/right to a multiple of ``multiple``."""
    ph, pw = (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


def resize_cmt_relative_pos(table: torch.Tensor, q_size: Sequence[int], k_size: Sequence[int]) -> torch.Tensor:
    """Resize a CMT bias table ``(heads, gq*gq, gk*gk)`` (square grids) to
    ``(heads, q_size[0]*q_size[1], k_size[0]*k_size[1])``: bicubic over the key grid, then over the
    query grid (the rule of the module docstring)."""
    heads, nq, nk = table.shape
    gq, gk = int(round(math.sqrt(nq))), int(round(math.sqrt(nk)))
    if gq * gq != nq or gk * gk != nk:
        raise ValueError(f'CMT: a relative position table {tuple(table.shape)} is not square in queries and keys')
    (hq, wq), (hk, wk) = tuple(q_size), tuple(k_size)
    t = table
    if (hk, wk) != (gk, gk):
        t = t.reshape(heads * nq, 1, gk, gk)
        t = F.interpolate(t, size=(hk, wk), mode='bicubic', align_corners=False)
    t = t.reshape(heads, nq, hk * wk)
    if (hq, wq) != (gq, gq):
        t = t.transpose(1, 2).reshape(heads * hk * wk, 1, gq, gq)
        t = F.interpolate(t, size=(hq, wq), mode='bicubic', align_corners=False)
        t = t.reshape(heads, hk * wk, hq * wq).transpose(1, 2)
    return t


class Stem(nn.Module):
    """Official ``stem_conv{1,2,3}`` / ``stem_relu*`` / ``stem_norm*``: (3x3 conv, GELU, BN) x 3,
    the first conv of stride 2."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        for i in (1, 2, 3):
            self.add_module(f'conv{i}', nn.Conv2d(in_channels if i == 1 else channels, channels, 3,
                                                  2 if i == 1 else 1, 1))
            self.add_module(f'norm{i}', nn.BatchNorm2d(channels))
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in (1, 2, 3):
            x = getattr(self, f'norm{i}')(self.act(getattr(self, f'conv{i}')(x)))
        return x


class PatchEmbed(nn.Module):
    """2x2/2 conv + LayerNorm (eps 1e-5) on the tokens; odd maps are zero-padded first."""

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 2, 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.proj(_pad_to(x, 2))
        hw = tuple(x.shape[-2:])
        return self.norm(map_to_tokens(x)), hw


class LightweightAttention(nn.Module):
    """LMHSA: keys/values from a depth-wise ``sr``/``sr`` conv + BN of the map (``sr`` > 1), plus the
    stage's relative position bias. ``qk_ratio`` shrinks the query/key width (1 in every official
    variant); the scale stays ``(dim / heads) ** -0.5`` as in the official code."""

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 1, qk_ratio: int = 1, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads or (dim // qk_ratio) % num_heads:
            raise ValueError(f'CMT: dim {dim} (and dim / qk_ratio {dim // qk_ratio}) must divide by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.qk_dim = dim // qk_ratio
        self.scale = (dim // num_heads) ** -0.5
        self.sr_ratio = sr_ratio
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, self.qk_dim, bias=qkv_bias)
        self.k = nn.Linear(dim, self.qk_dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.sr = nn.Sequential(nn.Conv2d(dim, dim, sr_ratio, sr_ratio, groups=dim), nn.BatchNorm2d(dim))

    def forward(self, x: torch.Tensor, hw: Tuple[int, int], bias: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        heads = self.num_heads
        q = self.q(x).reshape(B, N, heads, -1).transpose(1, 2)
        kv = x
        if self.sr_ratio > 1:
            kv = map_to_tokens(self.sr(_pad_to(tokens_to_map(x, hw), self.sr_ratio)))
        k = self.k(kv).reshape(B, kv.shape[1], heads, -1).transpose(1, 2)
        v = self.v(kv).reshape(B, kv.shape[1], heads, -1).transpose(1, 2)
        x = attention(q, k, v, bias.unsqueeze(0), dropout_p=self.attn_drop if self.training else 0.0,
                      scale=self.scale)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))


class IRFFN(nn.Module):
    """Inverted residual FFN on the map: 1x1 conv -> GELU -> BN, (+ DW 3x3) -> GELU -> BN,
    1x1 conv -> BN (official ``Mlp``: ``conv1``, ``proj``, ``proj_bn``, ``conv2``)."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.norm1 = nn.BatchNorm2d(hidden)
        self.dw = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.norm2 = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.norm3 = nn.BatchNorm2d(dim)
        self.act = nn.GELU()
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        x = self.drop(self.norm1(self.act(self.fc1(tokens_to_map(x, hw)))))
        x = self.norm2(self.act(self.dw(x) + x))
        return self.drop(map_to_tokens(self.norm3(self.fc2(x))))


class CMTBlock(nn.Module):

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, sr_ratio: int, qk_ratio: int = 1,
                 qkv_bias: bool = True, drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.lpu = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = LightweightAttention(dim, num_heads, sr_ratio, qk_ratio, qkv_bias, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = IRFFN(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, hw: Tuple[int, int], bias: torch.Tensor) -> torch.Tensor:
        m = tokens_to_map(x, hw)
        x = map_to_tokens(self.lpu(m) + m)
        x = x + self.drop_path(self.attn(self.norm1(x), hw, bias))
        return x + self.drop_path(self.mlp(self.norm2(x), hw))


class CMTStage(nn.Module):
    """Patch embedding, the stage's relative position table and its blocks."""

    def __init__(self, in_channels: int, dim: int, depth: int, num_heads: int, mlp_ratio: float, sr_ratio: int,
                 grid: int, qk_ratio: int = 1, qkv_bias: bool = True, drop: float = 0.0, attn_drop: float = 0.0,
                 drop_paths: Sequence[float] = ()):
        super().__init__()
        self.sr_ratio = sr_ratio
        self.downsample = PatchEmbed(in_channels, dim)
        key_grid = -(-grid // sr_ratio)
        self.relative_pos = nn.Parameter(torch.randn(num_heads, grid * grid, key_grid * key_grid))
        self.blocks = nn.ModuleList([
            CMTBlock(dim, num_heads, mlp_ratio, sr_ratio, qk_ratio, qkv_bias, drop, attn_drop,
                     drop_paths[j] if drop_paths else 0.0) for j in range(depth)])

    def position_bias(self, hw: Tuple[int, int]) -> torch.Tensor:
        k_hw = (-(-hw[0] // self.sr_ratio), -(-hw[1] // self.sr_ratio))
        return resize_cmt_relative_pos(self.relative_pos, hw, k_hw)

    def forward(self, x: torch.Tensor, with_cp: bool = False) -> torch.Tensor:
        x, hw = self.downsample(x)
        bias = self.position_bias(hw)
        for block in self.blocks:
            x = maybe_checkpoint(block, x, hw, bias, enabled=with_cp)
        return tokens_to_map(x, hw).contiguous()


@MODELS.register_module()
class CMT(BaseBackbone):
    """CMT backbone.

    Args:
        arch: 'tiny' | 'xsmall' | 'small' | 'base' (or 'ti'/'xs'/'s'/'b'), or a dict with
            ``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``, ``stem_channels`` (optional
            ``sr_ratios`` (8, 4, 2, 1), ``qk_ratio`` 1, ``img_size`` 224).
        img_size: the resolution the relative position tables are sized for (see the module doc);
            None takes the arch's (the official release's training size: 160 / 192 / 224 / 256).
        in_channels: input image channels.
        drop_rate / attn_drop_rate: dropout in the FFN and after the attention projection / on the
            attention weights (official defaults 0).
        drop_path_rate: stochastic depth, increasing linearly over all blocks.
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a channels-first LayerNorm (eps 1e-6) on each returned stage; False returns the
            raw stage outputs.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (each with its
            patch embedding, position table and output norm). Frozen BatchNorms keep their statistics.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``; the official release (a bare
            state dict or ``{'model': ...}``, classifier included) is converted on load and its
            position tables are resized when ``img_size`` differs from the checkpoint's.
    """

    converter = 'convert_cmt_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'tiny': dict(embed_dims=(46, 92, 184, 368), depths=(2, 2, 10, 2), num_heads=(1, 2, 4, 8),
                     mlp_ratios=(3.6, ) * 4, stem_channels=16, img_size=160),
        'xsmall': dict(embed_dims=(52, 104, 208, 416), depths=(3, 3, 12, 3), num_heads=(1, 2, 4, 8),
                       mlp_ratios=(3.77, ) * 4, stem_channels=16, img_size=192),
        'small': dict(embed_dims=(64, 128, 256, 512), depths=(3, 3, 16, 3), num_heads=(1, 2, 4, 8),
                      mlp_ratios=(4, ) * 4, stem_channels=32, img_size=224),
        'base': dict(embed_dims=(76, 152, 304, 608), depths=(4, 4, 20, 4), num_heads=(1, 2, 4, 8),
                     mlp_ratios=(4, ) * 4, stem_channels=38, img_size=256),
    }
    arch_zoo.update({'ti': arch_zoo['tiny'], 'xs': arch_zoo['xsmall'], 's': arch_zoo['small'],
                     'b': arch_zoo['base']})

    def __init__(self, arch='small', img_size=None, in_channels=3, drop_rate=0.0, attn_drop_rate=0.0,
                 drop_path_rate=0.0, out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1, with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo,
                           ('embed_dims', 'depths', 'num_heads', 'mlp_ratios', 'stem_channels'), name)
        dims, depths, heads = tuple(cfg['embed_dims']), tuple(cfg['depths']), tuple(cfg['num_heads'])
        mlp_ratios = tuple(cfg['mlp_ratios'])
        sr_ratios = tuple(cfg.get('sr_ratios', (8, 4, 2, 1)))
        if not len(dims) == len(depths) == len(heads) == len(mlp_ratios) == len(sr_ratios) == 4:
            raise ValueError(f'{name}: embed_dims {dims}, depths {depths}, num_heads {heads}, mlp_ratios '
                             f'{mlp_ratios} and sr_ratios {sr_ratios} need one entry for each of 4 stages')
        self.img_size = int(img_size if img_size is not None else cfg.get('img_size', 224))
        if self.img_size % 32:
            raise ValueError(f'{name}: img_size {self.img_size} must be a multiple of 32')
        self.num_stages = 4
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(dims)
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp

        self.stem = Stem(in_channels, cfg['stem_channels'])
        dpr = drop_path_rates(drop_path_rate, depths)
        chans = (cfg['stem_channels'], ) + dims[:-1]
        self.stages = nn.ModuleList([
            CMTStage(chans[i], dims[i], depths[i], heads[i], mlp_ratios[i], sr_ratios[i],
                     self.img_size // 2 ** (i + 2), cfg.get('qk_ratio', 1), True, drop_rate, attn_drop_rate,
                     dpr[i]) for i in range(self.num_stages)])
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(dims[i], eps=1e-6) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):  # torch's fan-out: out_channels * k * k, groups ignored
                    nn.init.kaiming_normal_(m.weight, mode='fan_out')
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            return  # position tables keep their N(0, 1) draw, as the official ones
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.stem)
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(self.stages[i])
            freeze(getattr(self, f'norm{i}', None))

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x, self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)

    def _adapt_shapes(self, sd, own):
        for k, v in list(sd.items()):
            if k.endswith('relative_pos') and k in own and own[k].shape != v.shape and v.dim() == 3:
                gq = int(round(math.sqrt(own[k].shape[1])))
                gk = int(round(math.sqrt(own[k].shape[2])))
                sd[k] = resize_cmt_relative_pos(v.float(), (gq, gq), (gk, gk)).to(v.dtype)
        return super()._adapt_shapes(sd, own)


_BLOCK_RENAMES = [  # official name inside blocks_{a..d}.{j}. -> ours inside stages.{i}.blocks.{j}.
    ('proj.', 'lpu.'), ('mlp.conv1.0.', 'mlp.fc1.'), ('mlp.conv1.2.', 'mlp.norm1.'), ('mlp.proj.', 'mlp.dw.'),
    ('mlp.proj_bn.', 'mlp.norm2.'), ('mlp.conv2.0.', 'mlp.fc2.'), ('mlp.conv2.1.', 'mlp.norm3.'),
]
_STAGE = {'a': 0, 'b': 1, 'c': 2, 'd': 3}


def convert_cmt_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official CMT checkpoint (``cmt_pytorch/cmt.py`` names) to this module's names.

    ``stem_conv{i}``/``stem_norm{i}`` -> ``stem.conv{i}``/``stem.norm{i}``; ``patch_embed_{a..d}``
    -> ``stages.{0..3}.downsample``; ``relative_pos_{a..d}`` -> ``stages.{i}.relative_pos``;
    ``blocks_{a..d}.{j}`` -> ``stages.{i}.blocks.{j}`` (LPU ``proj`` -> ``lpu``, the FFN's
    ``conv1.0/conv1.2/proj/proj_bn/conv2.0/conv2.1`` -> ``fc1/norm1/dw/norm2/fc2/norm3``); the
    classifier (``_fc``, ``_bn``, ``head``, ``pre_logits``) is dropped. Our own format passes unchanged.
    timm has no CMT, so there is no other layout.
    """
    if not any(k.startswith(('stem_', 'patch_embed_', 'blocks_', 'relative_pos_')) for k in state_dict):
        return state_dict
    out = {}
    for k, v in state_dict.items():
        if k.startswith(('_fc.', '_bn.', 'head.', 'pre_logits.')):
            continue
        m = re.match(r'stem_(conv|norm)(\d)\.(.*)', k)
        if m:
            out[f'stem.{m[1]}{m[2]}.{m[3]}'] = v
            continue
        m = re.match(r'patch_embed_([a-d])\.(.*)', k)
        if m:
            out[f'stages.{_STAGE[m[1]]}.downsample.{m[2]}'] = v
            continue
        m = re.match(r'relative_pos_([a-d])$', k)
        if m:
            out[f'stages.{_STAGE[m[1]]}.relative_pos'] = v
            continue
        m = re.match(r'blocks_([a-d])\.(\d+)\.(.*)', k)
        if m:
            rest = m[3]
            for old, new in _BLOCK_RENAMES:
                if rest.startswith(old):
                    rest = new + rest[len(old):]
                    break
            out[f'stages.{_STAGE[m[1]]}.blocks.{m[2]}.{rest}'] = v
            continue
        out[k] = v
    return out
