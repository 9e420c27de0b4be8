"""Spatial-reduction attention (PVT v1/v2, Twins PCPVT and the global sub-sampled attention of
Twins SVT).

Queries come from every token; keys and values from a reduced map: a ``sr_ratio`` x ``sr_ratio``
strided conv (``sr``) + LayerNorm (``norm``), or, in the *linear* form of PVTv2-Li, a 7x7 adaptive
average pool + 1x1 conv + LayerNorm + GELU. Parameter names follow the official releases
(``q``, ``kv``, ``sr``, ``norm``, ``proj``), so their checkpoints load unchanged.

Maps whose sides do not divide by ``sr_ratio``: the official code runs the strided conv on the map
as it is, which drops the last ``H % sr_ratio`` rows (and columns) from the keys and crashes on maps
smaller than ``sr_ratio``. With ``sr_pad=True`` (default here) the normalised tokens are zero-padded
at the bottom/right to a multiple of ``sr_ratio`` first, so every token reaches the keys
(``ceil(H / sr)`` x ``ceil(W / sr)`` keys). ``sr_pad=False`` reproduces the official floor rule
(padding only a map smaller than one reduction cell). Both agree whenever the sides divide by
``sr_ratio``, e.g. for images padded to a multiple of 32.
"""
import math
from functools import partial
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attention
from .drop import DropPath
from .mlp import ConvMlp, Mlp
from .shape import map_to_tokens, tokens_to_map


class SpatialReductionAttention(nn.Module):
    """Multi-head attention over a spatially reduced key/value map.

    Args:
        dim: channels of the tokens.
        num_heads: attention heads; ``dim`` must divide by it.
        sr_ratio: reduction factor of keys/values (1: plain global attention, no ``sr``/``norm``).
        qkv_bias: bias in ``q`` and ``kv``.
        qk_scale: override of ``head_dim ** -0.5``.
        attn_drop: dropout on the attention weights (training only).
        proj_drop: dropout after ``proj``.
        linear: PVTv2-Li linear SRA: keys from a ``pool_size`` x ``pool_size`` average pool.
        pool_size: output size of the pool of the linear form.
        sr_pad: zero-pad the map to a multiple of ``sr_ratio`` before reducing (see module doc).
        norm_eps: eps of the key/value LayerNorm (PyTorch's default 1e-5 in the official code).
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 1, qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 linear: bool = False, pool_size: int = 7, sr_pad: bool = True, norm_eps: float = 1e-5):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim={dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.scale = qk_scale
        self.attn_drop = attn_drop
        self.sr_ratio = sr_ratio
        self.linear = linear
        self.sr_pad = sr_pad
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        if linear:
            self.pool = nn.AdaptiveAvgPool2d(pool_size)
            self.sr = nn.Conv2d(dim, dim, kernel_size=1, stride=1)
            self.norm = nn.LayerNorm(dim, eps=norm_eps)
            self.act = nn.GELU()
        elif sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim, eps=norm_eps)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        r = self.sr_ratio
        if self.sr_pad:
            ph, pw = (-H) % r, (-W) % r
        else:
            ph, pw = max(r - H, 0), max(r - W, 0)
        return F.pad(x, (0, pw, 0, ph)) if ph or pw else x

    def reduce(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Tokens ``(B, H*W, C)`` -> the key/value tokens ``(B, M, C)``."""
        if not self.linear and self.sr_ratio == 1:
            return x
        y = tokens_to_map(x, hw)
        if self.linear:
            y = self.act(self.norm(map_to_tokens(self.sr(self.pool(y)))))
        else:
            y = self.norm(map_to_tokens(self.sr(self._pad(y))))
        return y

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        B, N, C = x.shape
        h = self.num_heads
        q = self.q(x).reshape(B, N, h, C // h).transpose(1, 2)
        kv = self.kv(self.reduce(x, hw)).reshape(B, -1, 2, h, C // h).permute(2, 0, 3, 1, 4)
        y = attention(q, kv[0], kv[1], dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale)
        return self.proj_drop(self.proj(y.transpose(1, 2).reshape(B, N, C)))


class _LinearReLU(nn.Linear):
    """``fc1`` of the PVTv2-Li MLP: a Linear followed by ReLU, keeping the ``fc1.weight`` name."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(x))


class SRABlock(nn.Module):
    """Pre-norm transformer block around :class:`SpatialReductionAttention`:
    ``x + drop_path(attn(norm1(x)))``, then ``x + drop_path(mlp(norm2(x)))``.

    Args:
        dim, num_heads, sr_ratio, qkv_bias, qk_scale, attn_drop, linear, sr_pad: of the attention.
        mlp_ratio: hidden/dim ratio of the MLP.
        drop: dropout after the attention projection and in the MLP.
        drop_path: stochastic-depth rate of both residual branches.
        norm_layer: the two block norms (the official code uses LayerNorm with eps 1e-6).
        conv_mlp: PVTv2's MLP with a 3x3 depth-wise conv (``fc1``, ``dwconv``, ``fc2``); else a
            plain ``fc1``/``fc2`` MLP (PVT v1, Twins). With ``linear`` the MLP gets PVTv2-Li's
            ReLU after ``fc1``.
        attn: replaces the spatial-reduction attention by another token mixer taking
            ``(x, hw)`` (Twins-SVT's locally-grouped attention).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, sr_ratio: int = 1,
                 qkv_bias: bool = True, qk_scale: Optional[float] = None, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0, norm_layer=nn.LayerNorm,
                 linear: bool = False, sr_pad: bool = True, conv_mlp: bool = False,
                 attn: Optional[nn.Module] = None):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = norm_layer(dim)
        self.attn = attn if attn is not None else SpatialReductionAttention(
            dim, num_heads, sr_ratio, qkv_bias, qk_scale, attn_drop, drop, linear=linear, sr_pad=sr_pad)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.conv_mlp = conv_mlp
        if conv_mlp:
            self.mlp = ConvMlp(dim, hidden, drop=drop)
            if linear:
                self.mlp.fc1 = _LinearReLU(dim, hidden)
        else:
            self.mlp = Mlp(dim, hidden, drop=drop)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        y = self.norm2(x)
        return x + self.drop_path(self.mlp(y, hw) if self.conv_mlp else self.mlp(y))


def sra_blocks(dim: int, num_heads: int, mlp_ratio: float, sr_ratio: int, drop_path: Sequence[float],
               make_attn: Optional[Callable[[int], Optional[nn.Module]]] = None, **kwargs) -> nn.ModuleList:
    """One stage's :class:`SRABlock` list, one per stochastic-depth rate in ``drop_path``, with the
    official LayerNorm (eps 1e-6) in the blocks. ``make_attn(j)`` may give block ``j`` another token
    mixer (None: spatial-reduction attention); ``kwargs`` go to every block."""
    kwargs.setdefault('norm_layer', partial(nn.LayerNorm, eps=1e-6))
    return nn.ModuleList([
        SRABlock(dim, num_heads, mlp_ratio, sr_ratio, drop_path=rate,
                 attn=make_attn(j) if make_attn is not None else None, **kwargs)
        for j, rate in enumerate(drop_path)])


def init_sra_weights_(module: nn.Module, conv_fan_out: bool = True) -> None:
    """The random initialisation of the official PVT/PVTv2/Twins code: truncated-normal (std 0.02)
    Linear weights with zero bias, unit LayerNorms and, with ``conv_fan_out``, convs drawn from
    N(0, 2 / fan_out) with zero bias (PVT v1 leaves its convs at PyTorch's default)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d) and conv_fan_out:
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
