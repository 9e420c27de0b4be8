"""Shunted Transformer (Ren et al., CVPR 2022, arXiv 2111.15193), after the official
OliverRensu/Shunted-Transformer ``SSA.py`` (the only model code released; classification only).

The network is PVTv2-shaped (four stages, tokens + LayerNorms, stage ``i`` closed by ``norm{i+1}``
which the next stage reads) with three changes:

- **Stem** (official ``Head``, ``patch_embed1``): ``7x7/2 conv (no bias) -> BN -> ReLU``, then
  ``num_conv`` times ``3x3 conv (no bias) -> BN -> ReLU``, then a ``2x2/2 conv`` and a LayerNorm
  (eps 1e-5) on the tokens; T/S/B use 0/1/2 extra 3x3 convs. Stages 2-4 open with an overlapping
  ``3x3/2`` patch embedding + LayerNorm (eps 1e-5).
- **Shunted self-attention**: in a stage with ``sr_ratio = r > 1`` the heads split in two halves.
  The first half attends to keys/values from the map reduced by an ``r x r`` strided conv
  (``sr1`` + LN ``norm1`` + GELU + ``kv1``), the second half to a map reduced by ``r/2``
  (``sr2``/``norm2``/``kv2``; a 1x1 conv when ``r = 2``). Each half's values get a 3x3 depth-wise
  conv on their reduced map added (``v = v + local_conv_i(v)``) before the attention. The two
  halves' outputs are concatenated and projected (``proj``). With ``r = 1`` (stage 4) it is plain
  attention with ``kv`` and a depth-wise ``local_conv`` of the values added to the attention output.
- **Detail-specific FFN**: ``fc2(GELU(h + DW_3x3(h)))``, ``h = fc1(x)`` (residual around the
  depth-wise conv, unlike PVTv2's ``ConvMlp``).

Block norms and stage norms are LayerNorms with eps 1e-6, qkv bias on, as in ``shunted_t/s/b``.

Inputs of any size: the stem's 7x7/2 conv gives ``ceil(H / 2)``; an odd map is zero-padded at the
bottom/right before the 2x2/2 conv; the 3x3/2 patch embeddings give ceil sizes, so stage ``i`` is
``ceil(H / 2**(i+2))``. Key/value reduction (``sr_pad=True``, default): before each reduction conv
(kernel = stride = its ratio ``s``: ``r`` or ``r/2``) the normalised map is zero-padded at the
bottom/right to a multiple of ``s``, giving ``ceil(H / s) x ceil(W / s)`` key/value positions, so
no token is dropped. ``sr_pad=False`` is the official floor rule (the last ``H % s`` rows/columns
never reach the keys; maps smaller than ``s`` are padded to one cell instead of crashing). Both rules
equal the official code whenever the sides divide by 32.

Parameter names are the official ones (``patch_embed{i}``, ``block{i}``, ``norm{i}``) except that
the FFN's depth-wise conv is ``mlp.dwconv`` (official ``mlp.dwconv.dwconv``; renamed on load). The
classifier ``head`` is dropped on load.
"""
import re
from functools import partial
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import ConvMlp, drop_path_rates
from ..layers.attention import attention
from ..layers.shape import map_to_tokens, tokens_to_map
from ..layers.spatial_reduction import SRABlock, init_sra_weights_
from ..registry import MODELS
from .pvt import _PVTBase

_DIMS = (64, 128, 256, 512)
_HEADS = (2, 4, 8, 16)
_MLP = (8, 8, 4, 4)
_SR = (8, 4, 2, 1)


def _pad_to(x: torch.Tensor, r: int, ceil: bool) -> torch.Tensor:
    """Zero-pad a ``(B, C, H, W)`` map at the bottom/right: to a multiple of ``r`` (``ceil``), or
    only up to one ``r x r`` cell (the floor rule)."""
    H, W = x.shape[-2:]
    if ceil:
        ph, pw = (-H) % r, (-W) % r
    else:
        ph, pw = max(r - H, 0), max(r - W, 0)
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


class ShuntedStem(nn.Module):
    """Official ``Head``: ``conv`` = [7x7/2 conv, BN, ReLU] + num_conv x [3x3 conv, BN, ReLU] +
    2x2/2 conv; ``norm`` on the tokens. The official width is 64 for every variant (``dim``)."""

    def __init__(self, in_channels: int, dim: int, num_conv: int):
        super().__init__()
        layers = [nn.Conv2d(in_channels, dim, 7, 2, 3, bias=False), nn.BatchNorm2d(dim), nn.ReLU(True)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU(True)]
        layers.append(nn.Conv2d(dim, dim, 2, 2))
        self.conv = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        for layer in self.conv[:-1]:
            x = layer(x)
        x = self.conv[-1](_pad_to(x, 2, ceil=True))
        hw = tuple(x.shape[-2:])
        return self.norm(map_to_tokens(x)), hw


class ShuntedAttention(nn.Module):
    """Shunted self-attention (official ``Attention``); see the module docstring.

    Args:
        dim, num_heads: channels and heads (``num_heads`` even when ``sr_ratio > 1``).
        sr_ratio: 1 (plain attention) or an even reduction ratio ``r`` (branches ``r`` and ``r/2``).
        qkv_bias, qk_scale, attn_drop, proj_drop: as usual.
        sr_pad: pad to a multiple of each branch's ratio (True) or the official floor rule.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 1, qkv_bias: bool = True,
                 qk_scale=None, attn_drop: float = 0.0, proj_drop: float = 0.0, sr_pad: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim={dim} is not divisible by num_heads={num_heads}')
        if sr_ratio > 1 and (sr_ratio % 2 or num_heads % 2):
            raise ValueError(f'shunted attention with sr_ratio={sr_ratio} needs an even sr_ratio and an '
                             f'even number of heads, got num_heads={num_heads}')
        self.num_heads = num_heads
        self.scale = qk_scale
        self.attn_drop = attn_drop
        self.sr_ratio = sr_ratio
        self.sr_pad = sr_pad
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        if sr_ratio > 1:
            self.act = nn.GELU()
            half = dim // 2
            for i, r in ((1, sr_ratio), (2, sr_ratio // 2)):
                self.add_module(f'sr{i}', nn.Conv2d(dim, dim, r, r))
                self.add_module(f'norm{i}', nn.LayerNorm(dim))
                self.add_module(f'kv{i}', nn.Linear(dim, dim, bias=qkv_bias))
                self.add_module(f'local_conv{i}', nn.Conv2d(half, half, 3, 1, 1, groups=half))
        else:
            self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
            self.local_conv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _attend(self, q, k, v):
        return attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale)

    def _branch(self, i: int, q: torch.Tensor, x_map: torch.Tensor) -> torch.Tensor:
        """Heads of branch ``i`` (queries ``q``: ``(B, h/2, N, d)``) over the map reduced by its ratio."""
        r = self.sr_ratio if i == 1 else self.sr_ratio // 2
        y = getattr(self, f'sr{i}')(_pad_to(x_map, r, self.sr_pad))
        B, C, h, w = y.shape
        y = self.act(getattr(self, f'norm{i}')(map_to_tokens(y)))
        heads, d = q.shape[1], q.shape[-1]
        k, v = getattr(self, f'kv{i}')(y).reshape(B, h * w, 2, heads, d).permute(2, 0, 3, 1, 4)
        v_map = v.transpose(-1, -2).reshape(B, heads * d, h, w)  # channels head-major, as the official
        v = v + getattr(self, f'local_conv{i}')(v_map).reshape(B, heads, d, h * w).transpose(-1, -2)
        return self._attend(q, k, v)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        B, N, C = x.shape
        q = self.q(x).reshape(B, N, self.num_heads, C // self.num_heads).transpose(1, 2)
        if self.sr_ratio > 1:
            x_map = tokens_to_map(x, hw)
            half = self.num_heads // 2
            y = torch.cat([self._branch(1, q[:, :half], x_map), self._branch(2, q[:, half:], x_map)], dim=1)
            y = y.transpose(1, 2).reshape(B, N, C)
        else:
            k, v = self.kv(x).reshape(B, N, 2, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
            y = self._attend(q, k, v).transpose(1, 2).reshape(B, N, C)
            v_map = v.transpose(-1, -2).reshape(B, C, *hw)
            y = y + map_to_tokens(self.local_conv(v_map))
        return self.proj_drop(self.proj(y))


class ShuntedMlp(ConvMlp):
    """Detail-specific FFN: ``fc2(act(h + dwconv(h)))``, ``h = fc1(x)`` (official ``Mlp``)."""

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        x = self.fc1(x)
        x = self.drop(self.act(x + self._dwconv(x, *hw)))
        return self.drop(self.fc2(x))


class ShuntedBlock(SRABlock):
    """Pre-norm block (LN eps 1e-6): shunted self-attention, then the detail-specific FFN."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, sr_ratio: int, qkv_bias: bool = True,
                 qk_scale=None, drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0,
                 sr_pad: bool = True):
        attn = ShuntedAttention(dim, num_heads, sr_ratio, qkv_bias, qk_scale, attn_drop, drop, sr_pad)
        super().__init__(dim, num_heads, mlp_ratio, sr_ratio, drop_path=drop_path,
                         norm_layer=partial(nn.LayerNorm, eps=1e-6), attn=attn, conv_mlp=True)
        self.mlp = ShuntedMlp(dim, int(dim * mlp_ratio), drop=drop)


class _ShuntedPatchEmbed(nn.Module):
    """Overlapping 3x3/2 patch embedding (``proj``) + LayerNorm (``norm``, eps 1e-5) of stages 2-4."""

    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_dim, dim, 3, 2, 1)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor):
        x = self.proj(x)
        hw = tuple(x.shape[-2:])
        return self.norm(map_to_tokens(x)), hw


@MODELS.register_module()
class ShuntedTransformer(_PVTBase):
    """Shunted Transformer backbone.

    Args:
        arch: 'tiny' | 'small' | 'base' (or t/s/b), or a dict with ``embed_dims``, ``depths``,
            ``num_heads``, ``mlp_ratios``, ``sr_ratios`` (one per stage; ``sr_ratios`` 1 or even)
            and ``num_conv`` (extra 3x3 convs in the stem). The stem's width is ``embed_dims[0]``
            (64 in every official variant).
        in_channels: input image channels.
        qkv_bias, qk_scale: of the attention (official: bias on, ``head_dim ** -0.5``).
        drop_rate, attn_drop_rate, drop_path_rate: dropout, attention dropout, stochastic depth
            (linearly increasing over all blocks).
        sr_pad: zero-pad each key/value reduction to a multiple of its ratio (default) or use the
            official floor rule (False); see the module docstring.
        out_indices: stages returned (strides 4, 8, 16, 32), each after its stage LayerNorm.
        frozen_stages: -1 trains all; 0 freezes the stem (``patch_embed1``, BatchNorm statistics
            included); k > 0 also the first k stages (patch embedding, blocks and stage norm).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``; the official release (bare state
            dict or ``{'model': ...}``, classifier ``head`` included) is converted on load.
    """

    model_name_prefix = 'shunted'  # vitdense.get_model('shunted_...')
    converter = 'convert_shunted_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'tiny': dict(embed_dims=_DIMS, depths=(1, 2, 4, 1), num_heads=_HEADS, mlp_ratios=_MLP, sr_ratios=_SR,
                     num_conv=0),
        'small': dict(embed_dims=_DIMS, depths=(2, 4, 12, 1), num_heads=_HEADS, mlp_ratios=_MLP,
                      sr_ratios=_SR, num_conv=1),
        'base': dict(embed_dims=_DIMS, depths=(3, 4, 24, 2), num_heads=_HEADS, mlp_ratios=_MLP, sr_ratios=_SR,
                     num_conv=2),
    }
    arch_zoo.update({k[0]: v for k, v in list(arch_zoo.items())})

    def __init__(self, arch='tiny', in_channels=3, qkv_bias=True, qk_scale=None, drop_rate=0.0,
                 attn_drop_rate=0.0, drop_path_rate=0.1, sr_pad=True, out_indices=(0, 1, 2, 3),
                 frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg, depths = self._setup(arch, out_indices, frozen_stages)
        self.with_cp = with_cp
        dpr = drop_path_rates(drop_path_rate, depths)
        for i, dim in enumerate(self.embed_dims):
            embed = (ShuntedStem(in_channels, dim, int(cfg.get('num_conv', 0))) if i == 0 else
                     _ShuntedPatchEmbed(self.embed_dims[i - 1], dim))
            setattr(self, f'patch_embed{i + 1}', embed)
            setattr(self, f'block{i + 1}', nn.ModuleList([
                ShuntedBlock(dim, cfg['num_heads'][i], cfg['mlp_ratios'][i], cfg['sr_ratios'][i], qkv_bias,
                             qk_scale, drop_rate, attn_drop_rate, rate, sr_pad) for rate in dpr[i]]))
            setattr(self, f'norm{i + 1}', nn.LayerNorm(dim, eps=1e-6))
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official _init_weights: trunc-normal Linears, fan-out convs
            init_sra_weights_(self, conv_fan_out=True)
            return
        super().init_weights()


def convert_shunted_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a Shunted Transformer checkpoint's weights to :class:`ShuntedTransformer`'s names.

    The official release (``SSA.py``'s ``ShuntedTransformer``) differs only in the FFN's depth-wise
    conv (``block{i}.{j}.mlp.dwconv.dwconv.*`` -> ``...mlp.dwconv.*``) and its classifier ``head.*``,
    which is dropped. Our own checkpoints pass unchanged. No other library (timm, mmpretrain)
    implements the family, so there is no other layout.
    """
    out = {}
    for k, v in state_dict.items():
        if k.startswith('head.'):
            continue
        out[re.sub(r'\.mlp\.dwconv\.dwconv\.', '.mlp.dwconv.', k)] = v
    return out
