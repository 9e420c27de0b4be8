"""DilateFormer (Jiao et al., IEEE TMM 2023, arXiv 2302.01791), after the official
JIAOJIAYUASD/dilateformer ``models/dilateformer.py`` (the only model code released; classification).

Stem (``patch_embed.proj``): four 3x3 convs (strides 1, 2, 1, 2; widths 16, 32, 64, C; no biases),
BatchNorm + GELU after the first three. Every block is

    x = x + pos_embed(x)                     # depth-wise 3x3 conv (``cpe_per_block``)
    x = x + drop_path(attn(norm1(x)))
    x = x + drop_path(mlp(norm2(x)))

with token LayerNorms (eps 1e-6) and an MLP of ratio 4. Stages 1-2 use multi-scale dilated attention
(MSDA): a 1x1 conv gives q, k, v; the channels (hence heads) are split into as many groups as
dilation rates (1, 2, 3); each query attends to the 3x3 keys of its group's dilation around it, keys
outside the map being zeros (the official ``nn.Unfold`` zero padding, so they take part in the
softmax with score 0 and contribute a zero value). Stages 3-4 use global multi-head attention.
Each of stages 1-3 ends with ``conv 3x3/2 (bias) -> BatchNorm`` (``stages.{i}.downsample``).

MSDA without the 9-fold copies: the official code unfolds k and v (9 copies each, then permutes
them into matmul layouts). Here each of the 9 scores is the channel sum of ``q`` times a shifted
view of the zero-padded ``k``, and the output the weighted sum of 9 shifted views of the padded
``v``: k and v are copied once (zero-padded), never 9-fold, and autograd keeps views of those
copies. Same arithmetic up to summation order, zero-padded keys included in the softmax (tested
against the official code at odd sizes, tests/test_dilateformer.py).

Dense form (no official dense code exists): the stage outputs are the block outputs of each stage
*before* its downsampling conv (strides 4, 8, 16, 32), each through a channels-first LayerNorm
``norm{i}`` (eps 1e-6); the official final ``norm`` (on the last stage) loads as ``norm3``.
``out_norm=False`` returns the raw outputs. Every layer pads as a convolution with stride 2 and
padding 1 does, so stage ``i`` has ``ceil(H / 2**(i+2))`` rows at any input size, exactly the
official arithmetic (the official stem only asserts the 224x224 training size).

Parameter names are the official ones (``patch_embed.proj.{0..9}``, ``stages.{i}.blocks.{j}.pos_embed``,
``.norm1``, ``.attn.qkv``, ``.attn.proj``, ``.norm2``, ``.mlp.fc1/fc2``, ``stages.{i}.downsample.proj.{0,1}``).
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import Attention, DropPath, LayerNorm2d, Mlp, drop_path_rates, maybe_checkpoint
from ..layers.weight_init import init_linear_and_layernorm_
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


def dilated_local_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dilation: int,
                            kernel_size: int = 3, scale: float = 1.0,
                            attn_drop: Optional[nn.Module] = None) -> torch.Tensor:
    """Sliding-window attention of every query over its ``kernel_size**2`` dilated neighbours.

    ``q``, ``k``, ``v``: ``(B, heads, head_dim, H, W)``. Keys/values outside the map are zeros and
    stay in the softmax (score 0), as with ``nn.Unfold``'s zero padding. Returns ``(B, heads,
    head_dim, H, W)``. ``attn_drop`` (a dropout module) acts on the attention weights. Each score
    is ``sum_c q * shifted k`` over a view of the padded ``k``; nothing is unfolded.
    """
    H, W = q.shape[-2:]
    p = dilation * (kernel_size - 1) // 2
    k = F.pad(k, (p, p, p, p))
    v = F.pad(v, (p, p, p, p))
    offsets = [(i * dilation, j * dilation) for i in range(kernel_size) for j in range(kernel_size)]
    q = q * scale
    scores = torch.stack([(q * k[..., a:a + H, b:b + W]).sum(2) for a, b in offsets], 2)
    attn = scores.softmax(2)
    if attn_drop is not None:
        attn = attn_drop(attn)
    attn = attn.unsqueeze(3)  # (B, heads, K*K, 1, H, W)
    out = attn[:, :, 0] * v[..., :H, :W]
    for n, (a, b) in enumerate(offsets[1:], 1):
        out = out + attn[:, :, n] * v[..., a:a + H, b:b + W]
    return out


class MultiDilatelocalAttention(nn.Module):
    """MSDA on ``(B, H, W, C)`` tokens: channel group ``g`` (``num_heads / len(dilation)`` heads)
    attends over the 3x3 neighbourhood of dilation ``dilation[g]`` (official class of this name)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, qk_scale=None, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, kernel_size: int = 3, dilation: Sequence[int] = (1, 2, 3)):
        super().__init__()
        if num_heads % len(dilation) or dim % num_heads:
            raise ValueError(f'MSDA: num_heads={num_heads} must divide by the {len(dilation)} dilation rates '
                             f'and dim={dim} by num_heads')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.dilation = tuple(dilation)
        self.kernel_size = kernel_size
        self.scale = qk_scale or self.head_dim ** -0.5
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)  # the official DilateAttention's dropout (default 0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        G = len(self.dilation)
        qkv = self.qkv(x.permute(0, 3, 1, 2)).reshape(B, 3, G, self.num_heads // G, self.head_dim, H, W)
        outs = [dilated_local_attention(qkv[:, 0, g], qkv[:, 1, g], qkv[:, 2, g], d, self.kernel_size, self.scale,
                                        self.attn_drop) for g, d in enumerate(self.dilation)]
        x = torch.cat(outs, 1).reshape(B, C, H, W).permute(0, 2, 3, 1)
        return self.proj_drop(self.proj(x))


class GlobalAttention(Attention):
    """Multi-head self-attention on ``(B, H, W, C)`` tokens (official ``GlobalAttention``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        return super().forward(x.reshape(B, H * W, C)).reshape(B, H, W, C)


class DilateFormerBlock(nn.Module):
    """Conditional position embedding (depth-wise 3x3), then pre-norm attention and MLP, on
    ``(B, C, H, W)`` maps (official ``DilateBlock`` / ``GlobalBlock``)."""

    def __init__(self, dim: int, num_heads: int, dilate: bool, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 qk_scale=None, drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0,
                 kernel_size: int = 3, dilation: Sequence[int] = (1, 2, 3)):
        super().__init__()
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if dilate:
            self.attn = MultiDilatelocalAttention(dim, num_heads, qkv_bias, qk_scale, attn_drop,
                                                  kernel_size=kernel_size, dilation=dilation)
        else:
            self.attn = GlobalAttention(dim, num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale, attn_drop=attn_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x + self.pos_embed(x)).permute(0, 2, 3, 1)
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x.permute(0, 3, 1, 2)


class OverlapStem(nn.Module):
    """Official overlapping ``PatchEmbed``: ``proj`` = conv 3x3/1 (16), BN, GELU, conv 3x3/2 (32), BN,
    GELU, conv 3x3/1 (64), BN, GELU, conv 3x3/2 (C); no conv biases."""

    def __init__(self, in_channels: int, dim: int, hidden: int = 16):
        super().__init__()
        layers, c = [], in_channels
        for out, stride in ((hidden, 1), (hidden * 2, 2), (hidden * 4, 1)):
            layers += [nn.Conv2d(c, out, 3, stride, 1, bias=False), nn.BatchNorm2d(out), nn.GELU()]
            c = out
        self.proj = nn.Sequential(*layers, nn.Conv2d(c, dim, 3, 2, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class ConvDownsample(nn.Module):
    """Official ``PatchMerging`` ('conv3_2'): ``proj`` = conv 3x3/2 with bias, BatchNorm."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(dim, out_dim, 3, 2, 1), nn.BatchNorm2d(out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class DilateFormerStage(nn.Module):
    """``blocks``, then (stages 1-3) ``downsample`` to the next stage; ``forward`` returns both the
    stage output (before downsampling) and the next stage's input."""

    def __init__(self, blocks: Sequence[nn.Module], downsample: nn.Module):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample


@MODELS.register_module()
class DilateFormer(BaseBackbone):
    """DilateFormer backbone.

    Args:
        arch: 'tiny' | 'small' | 'base' (or t/s/b), or a dict with ``embed_dims``, ``depths`` and
            ``num_heads`` (optional ``dilate_stages``, default MSDA in the first two stages;
            ``dilation``, default (1, 2, 3); ``mlp_ratio``, default 4).
        in_channels: input image channels.
        drop_path_rate: stochastic depth, increasing linearly over all blocks (official default 0.1
            for the classifier; the per-model training values are train-script arguments).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a channels-first LayerNorm (eps 1e-6) on each returned stage; False returns the
            raw block outputs.
        frozen_stages: -1 trains all; 0 freezes the stem (``patch_embed``); k > 0 also stages
            0..k-1 (their blocks, the downsampling conv that ends each and their output norms).
            Frozen BatchNorms keep their running statistics.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``; the official release (``{'model': ...}``,
            classifier included) is converted on load.
    """

    converter = 'convert_dilateformer_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'tiny': dict(embed_dims=(72, 144, 288, 576), depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
        'small': dict(embed_dims=(72, 144, 288, 576), depths=(3, 5, 8, 3), num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=(96, 192, 384, 768), depths=(4, 8, 10, 3), num_heads=(3, 6, 12, 24)),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base']})

    def __init__(self, arch='tiny', in_channels=3, drop_path_rate=0.1, qkv_bias=True, qk_scale=None,
                 drop_rate=0.0, attn_drop_rate=0.0, out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), name)
        dims, depths, heads = tuple(cfg['embed_dims']), tuple(cfg['depths']), tuple(cfg['num_heads'])
        n = len(depths)
        dilate = tuple(cfg.get('dilate_stages', (True, True) + (False, ) * (n - 2)))
        if not len(dims) == len(heads) == len(dilate) == n:
            raise ValueError(f'{name}: embed_dims {dims}, depths {depths}, num_heads {heads} and dilate_stages '
                             f'{dilate} must have one entry per stage')
        self.num_stages = n
        self.out_indices = check_out_indices(out_indices, n, name)
        self.num_features = list(dims)
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp

        self.patch_embed = OverlapStem(in_channels, dims[0])
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList()
        for i in range(n):
            blocks = [DilateFormerBlock(dims[i], heads[i], dilate[i], cfg.get('mlp_ratio', 4.0), qkv_bias, qk_scale,
                                        drop_rate, attn_drop_rate, rate, dilation=cfg.get('dilation', (1, 2, 3)))
                      for rate in dpr[i]]
            down = ConvDownsample(dims[i], dims[i + 1]) if i < n - 1 else nn.Identity()
            self.stages.append(DilateFormerStage(blocks, down))
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(dims[i], eps=1e-6) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init: Linear trunc-normal(0.02), unit LayerNorms
            init_linear_and_layernorm_(self)  # (convs and BatchNorms keep torch's defaults, as there)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed)
        for i in range(self.frozen_stages):
            freeze(self.stages[i])
            freeze(getattr(self, f'norm{i}', None))

    def forward(self, x: torch.Tensor):
        x = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            for block in stage.blocks:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
            x = stage.downsample(x)
        return tuple(outs)


def convert_dilateformer_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a DilateFormer checkpoint's weights to this module's names.

    The official release uses our names except its final token LayerNorm ``norm.*`` (on the last
    stage), which becomes ``norm3.*``; the classifier ``head.*`` is dropped. Our own checkpoints
    (``norm0..3``, no ``norm.``) pass unchanged. No other library implements DilateFormer.
    """
    out = {}
    for k, v in state_dict.items():
        if k.startswith('head.'):
            continue
        out['norm3.' + k[5:] if k.startswith('norm.') else k] = v
    return out
