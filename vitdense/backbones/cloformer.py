"""CloFormer (Fan et al., "Rethinking Local Perception in Lightweight Vision Transformer", arXiv
2303.17803), after the official qhfan/CloFormer ``classification/models`` (the only code released;
no dense-prediction code, no weights).

Stem (official ``PatchEmbedding``): two 3x3/2 and two 3x3 conv-BN-ReLU, a 1x1 conv and a
``GroupNorm(1, C)``: stride 4. Every block is pre-norm (``GroupNorm(1, C)``, i.e. normalised over
C, H and W):

    x = x + drop_path(attn(norm1(x)))
    x = x + drop_path(mlp(norm2(x)))

``attn`` splits its heads into local groups (AttnConv) and one global group. AttnConv, per local
group with kernel k: ``q, k, v = DW_kxk(qkv_1x1(x))``, context-aware weights
``tanh(gate(q * k) * d**-0.5)`` with ``gate = 1x1 -> SiLU -> 1x1``, output ``weights * v``. The
global group attends from every position to ``k, v`` of the ``window_size``-average-pooled map
(8, 4, 2, 1 at strides 4-32: a 7x7 grid at 224). The groups' outputs are concatenated and
projected (1x1). ``mlp`` is the ConvFFN ``fc1_1x1 -> GELU -> DW_5x5 -> fc2_1x1``.

Where the stages end. In the official code the *last block of each of the first three layers*
downsamples: its attention half runs at the layer's resolution, then its FFN has a stride-2
depth-wise conv and widens to the next layer's channels, and its residual branch is
``conv 5x5/2 -> BN -> conv 1x1``. The last map at stride 4 (8, 16) is therefore the one after that
block's attention residual. Our stages end exactly there: stage ``i`` (i > 0) opens with
``downsample`` (the official FFN half of layer i-1's last block: ``norm``, ``mlp``,
``shortcut``), followed by layer i's blocks, of which the last (when a stage follows) keeps only
its attention half. The network is the official one, cut at the points where its resolution is
4, 8, 16 and 32.

Dense form (the paper's detection/segmentation code was not released): the four stage outputs,
each through a ``GroupNorm(1, C)`` (``norm0..3``, the family's own norm; ``norm3`` is the official
final ``norm``, loaded from the release). ``out_norm=False`` returns the raw stage outputs.

Inputs of any size: every stride-2 conv is ``k//2``-padded, so each stage has ``ceil(H / 2**(i+2))``
rows; the global branch pools with ``ceil_mode`` (a partial window at the bottom/right averages its
valid cells), where the official code needs maps divisible by the window (multiples of 32 at the
input; there both agree).

The official BatchNorms are ``SyncBatchNorm``; here ``norm_cfg`` (``BN`` by default, same
parameters).
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from ..layers import DropPath, attention, drop_path_rates, maybe_checkpoint
from ..layers.norm import batchnorms_to_eval
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class ConvBNReLU(nn.Module):

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm_cfg: dict):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Stem(nn.Module):
    """Official ``PatchEmbedding``: stride 4, then a 1x1 conv and ``GroupNorm(1, C)``."""

    def __init__(self, in_channels: int, dim: int, norm_cfg: dict):
        super().__init__()
        self.conv1 = ConvBNReLU(in_channels, dim // 2, 2, norm_cfg)
        self.conv2 = ConvBNReLU(dim // 2, dim, 2, norm_cfg)
        self.conv3 = ConvBNReLU(dim, dim, 1, norm_cfg)
        self.conv4 = ConvBNReLU(dim, dim, 1, norm_cfg)
        self.proj = nn.Conv2d(dim, dim, 1)
        self.norm = nn.GroupNorm(1, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv4(self.conv3(self.conv2(self.conv1(x))))
        return self.norm(self.proj(x))


class AttnConv(nn.Module):
    """One local head group: shared DW-conv aggregation of q, k, v and tanh-gated context-aware
    weights ``tanh(gate(q * k) * scale)`` applied to v."""

    def __init__(self, dim: int, channels: int, kernel_size: int, scale: float):
        super().__init__()
        self.scale = scale
        self.qkv = nn.Conv2d(dim, 3 * channels, 1)
        self.dwconv = nn.Conv2d(3 * channels, 3 * channels, kernel_size, 1, kernel_size // 2, groups=3 * channels)
        self.gate = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.SiLU(), nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.dwconv(self.qkv(x)).chunk(3, dim=1)
        return torch.tanh(self.gate(q * k) * self.scale) * v


class CloAttention(nn.Module):
    """Official ``EfficientAttention``: AttnConv groups (``group_split[:-1]`` heads, one per kernel
    size) beside a global group (``group_split[-1]`` heads) attending to the pooled map."""

    def __init__(self, dim: int, num_heads: int, group_split: Sequence[int], kernel_sizes: Sequence[int],
                 window_size: int):
        super().__init__()
        if sum(group_split) != num_heads or len(kernel_sizes) + 1 != len(group_split):
            raise ValueError(f'CloFormer: group_split {list(group_split)} must sum to num_heads={num_heads} and '
                             f'have one entry per kernel size {list(kernel_sizes)} plus the global group')
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.local_branches = nn.ModuleList([
            AttnConv(dim, heads * self.head_dim, k, self.scale)
            for heads, k in zip(group_split[:-1], kernel_sizes) if heads > 0])
        self.global_heads = group_split[-1]
        self.window_size = window_size
        if self.global_heads > 0:
            self.global_q = nn.Conv2d(dim, self.global_heads * self.head_dim, 1)
            self.global_kv = nn.Conv2d(dim, 2 * self.global_heads * self.head_dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def _global(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        m, d = self.global_heads, self.head_dim
        q = self.global_q(x).reshape(b, m, d, h * w).transpose(-1, -2)
        pooled = x
        if self.window_size > 1:
            pooled = F.avg_pool2d(x, self.window_size, self.window_size, ceil_mode=True)
        k, v = self.global_kv(pooled).reshape(b, 2, m, d, -1).transpose(-1, -2).unbind(1)
        return attention(q, k, v, scale=self.scale).transpose(-1, -2).reshape(b, m * d, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = [branch(x) for branch in self.local_branches]
        if self.global_heads > 0:
            res.append(self._global(x))
        return self.proj(torch.cat(res, dim=1))


class ConvFFN(nn.Module):
    """``fc1 -> GELU -> depth-wise kxk (stride 1, or 2 when downsampling) -> fc2``."""

    def __init__(self, dim: int, hidden: int, kernel_size: int, out_dim: int, stride: int = 1):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size, stride, kernel_size // 2, groups=hidden)
        self.fc2 = nn.Conv2d(hidden, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dwconv(self.act(self.fc1(x))))


class CloBlock(nn.Module):
    """Attention residual, then (``with_ffn``) the ConvFFN residual. The last block of a stage that
    has a successor keeps only its attention half; its FFN half is the next stage's ``downsample``."""

    def __init__(self, dim: int, num_heads: int, group_split, kernel_sizes, window_size: int,
                 mlp_kernel_size: int, mlp_ratio: float, drop_path: float = 0.0, with_ffn: bool = True):
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim)
        self.attn = CloAttention(dim, num_heads, group_split, kernel_sizes, window_size)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.with_ffn = with_ffn
        if with_ffn:
            self.norm2 = nn.GroupNorm(1, dim)
            self.mlp = ConvFFN(dim, int(dim * mlp_ratio), mlp_kernel_size, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        if self.with_ffn:
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class DownsampleFFN(nn.Module):
    """The FFN half of the official downsampling block: ``shortcut(x) + drop_path(mlp(norm(x)))``
    with a stride-2 ConvFFN and ``shortcut = conv kxk/2 -> BN -> conv 1x1`` to the new width."""

    def __init__(self, dim: int, out_dim: int, mlp_kernel_size: int, mlp_ratio: float, drop_path: float = 0.0,
                 norm_cfg: Optional[dict] = None):
        super().__init__()
        k = mlp_kernel_size
        self.norm = nn.GroupNorm(1, dim)
        self.mlp = ConvFFN(dim, int(dim * mlp_ratio), k, out_dim, stride=2)
        self.shortcut = nn.Sequential(nn.Conv2d(dim, dim, k, 2, k // 2),
                                      build_norm_layer(norm_cfg or dict(type='BN'), dim)[1],
                                      nn.Conv2d(dim, out_dim, 1))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.drop_path(self.mlp(self.norm(x)))


class CloStage(nn.Module):

    def __init__(self, downsample: Optional[nn.Module], blocks: List[nn.Module]):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.ModuleList(blocks)


@MODELS.register_module()
class CloFormer(BaseBackbone):
    """CloFormer backbone.

    Args:
        arch: 'xxs' | 'xs' | 's' (or 'xx_small' / 'x_small' / 'small'), or a dict with ``dims``,
            ``depths``, ``num_heads``, ``group_splits`` (per stage: heads of each local kernel size,
            then the global heads) and ``kernel_sizes`` (per stage: the AttnConv kernels); optional
            ``window_sizes`` (pooling of the global branch, default 8, 4, 2, 1),
            ``mlp_kernel_sizes`` (default 5s) and ``mlp_ratios`` (default 4s).
        in_channels: input image channels.
        drop_path_rate: stochastic depth, increasing linearly over all blocks (the official
            downsampling block uses one rate for both halves, as here).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a ``GroupNorm(1, C)`` on each returned stage (``norm3`` is the official final
            norm); False returns the raw stage outputs.
        norm_cfg: the BatchNorms of the stem and of the downsampling shortcuts (official:
            ``SyncBatchNorm``; ``dict(type='BN')`` by default, ``dict(type='SyncBN')`` for
            multi-GPU training as the official code does). The block norms are GroupNorms.
        norm_eval: keep those BatchNorms in eval mode while training.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (stage i > 0
            includes its ``downsample``, the FFN half of the official downsampling block) and their
            output norms. Frozen BatchNorms keep their running statistics.
        with_cp: activation checkpointing in every block (and downsampling FFN).
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``; an official-layout checkpoint
            (``{'model': ...}`` or a bare state dict, classifier included) is converted on load.
    """

    converter = 'convert_cloformer_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {  # official classification/models/model_factory.py
        'xxs': dict(dims=(32, 64, 128, 256), depths=(2, 2, 6, 2), num_heads=(4, 4, 8, 16),
                    group_splits=((3, 1), (2, 2), (4, 4), (4, 12)), kernel_sizes=((3, ), (5, ), (7, ), (9, ))),
        'xs': dict(dims=(48, 96, 160, 352), depths=(2, 2, 6, 2), num_heads=(3, 6, 10, 22),
                   group_splits=((2, 1), (3, 3), (5, 5), (7, 15)), kernel_sizes=((3, ), (5, ), (7, ), (9, ))),
        's': dict(dims=(64, 128, 224, 448), depths=(2, 2, 6, 2), num_heads=(4, 8, 14, 28),
                  group_splits=((3, 1), (4, 4), (7, 7), (7, 21)), kernel_sizes=((3, ), (5, ), (7, ), (9, ))),
    }
    arch_zoo.update({'xx_small': arch_zoo['xxs'], 'x_small': arch_zoo['xs'], 'small': arch_zoo['s']})

    def __init__(self, arch='xxs', in_channels=3, drop_path_rate=0.0, out_indices=(0, 1, 2, 3), out_norm=True,
                 norm_cfg=dict(type='BN'), norm_eval=False, frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('dims', 'depths', 'num_heads', 'group_splits', 'kernel_sizes'),
                           name)
        dims, depths = tuple(cfg['dims']), tuple(cfg['depths'])
        n = len(depths)
        window_sizes = tuple(cfg.get('window_sizes', (8, 4, 2, 1)))
        mlp_kernel_sizes = tuple(cfg.get('mlp_kernel_sizes', (5, ) * n))
        mlp_ratios = tuple(cfg.get('mlp_ratios', (4, ) * n))
        per_stage = (dims, cfg['num_heads'], cfg['group_splits'], cfg['kernel_sizes'], window_sizes,
                     mlp_kernel_sizes, mlp_ratios)
        if any(len(v) != n for v in per_stage) or min(depths) < 1:
            raise ValueError(f'{name}: dims, depths, num_heads, group_splits, kernel_sizes, window_sizes, '
                             f'mlp_kernel_sizes and mlp_ratios need one entry per stage (depths {depths})')
        self.num_stages = n
        self.out_indices = check_out_indices(out_indices, n, name)
        self.num_features = list(dims)
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp

        self.stem = Stem(in_channels, dims[0], norm_cfg)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList()
        for i in range(n):
            downsample = None
            if i > 0:
                downsample = DownsampleFFN(dims[i - 1], dims[i], mlp_kernel_sizes[i - 1], mlp_ratios[i - 1],
                                           dpr[i - 1][-1], norm_cfg)
            blocks = [
                CloBlock(dims[i], cfg['num_heads'][i], cfg['group_splits'][i], cfg['kernel_sizes'][i],
                         window_sizes[i], mlp_kernel_sizes[i], mlp_ratios[i], rate,
                         with_ffn=j < depths[i] - 1 or i == n - 1)
                for j, rate in enumerate(dpr[i])
            ]
            self.stages.append(CloStage(downsample, blocks))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.GroupNorm(1, dims[i]) if out_norm else nn.Identity())
        self._freeze_stages()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.stem)
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(self.stages[i])
            freeze(getattr(self, f'norm{i}', None))

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            batchnorms_to_eval(self)
        return self

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            if stage.downsample is not None:
                x = maybe_checkpoint(stage.downsample, x, enabled=self.with_cp)
            for block in stage.blocks:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)


def convert_cloformer_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official CloFormer checkpoint (``patch_embed.*``, ``layers.{i}.blocks.{j}.*``,
    ``norm``, ``head``) to this module's names; our own format passes unchanged.

    ``patch_embed.conv{n}.conv.{0,1}`` -> ``stem.conv{n}.{conv,bn}``, ``conv5`` -> ``stem.proj``,
    ``layernorm`` -> ``stem.norm``; in the attention ``qkvs.{g}`` / ``convs.{g}`` /
    ``act_blocks.{g}.act_block`` -> ``local_branches.{g}.{qkv,dwconv,gate}``; the downsampling
    block of layer i (the one with ``downsample.*``) gives its ``norm2`` / ``mlp`` / ``downsample``
    to ``stages.{i+1}.downsample.{norm,mlp,shortcut}``; the final ``norm`` becomes ``norm3`` (the
    last stage's output norm); the classifier ``head`` is dropped. No other library implements
    CloFormer, so there is no other layout.
    """
    if not any(k.startswith(('patch_embed.', 'layers.')) for k in state_dict):
        return state_dict
    down_blocks = {tuple(k.split('.')[1:4:2]) for k in state_dict
                   if k.startswith('layers.') and k.split('.')[4] == 'downsample'}
    num_layers = 1 + max(int(k.split('.')[1]) for k in state_dict if k.startswith('layers.'))
    out = {}
    for k, v in state_dict.items():
        if k.startswith('head.'):
            continue
        if k.startswith('norm.'):
            out[f'norm{num_layers - 1}.' + k[5:]] = v
        elif k.startswith('patch_embed.'):
            k = k.replace('patch_embed.', 'stem.').replace('.conv5.', '.proj.').replace('.layernorm.', '.norm.')
            out[k.replace('.conv.0.', '.conv.').replace('.conv.1.', '.bn.')] = v
        elif k.startswith('layers.'):
            p = k.split('.')
            i, j, rest = p[1], p[3], p[4:]
            if (i, j) in down_blocks and rest[0] in ('norm2', 'mlp', 'downsample'):
                rest[0] = {'norm2': 'norm', 'mlp': 'mlp', 'downsample': 'shortcut'}[rest[0]]
                out['.'.join([f'stages.{int(i) + 1}.downsample'] + rest)] = v
                continue
            if rest[0] == 'attn' and rest[1] in ('qkvs', 'convs', 'act_blocks'):
                sub = {'qkvs': ['qkv'], 'convs': ['dwconv'], 'act_blocks': ['gate']}[rest[1]]
                rest = ['attn', 'local_branches', rest[2]] + sub + [r for r in rest[3:] if r != 'act_block']
            out['.'.join([f'stages.{i}.blocks.{j}'] + rest)] = v
        else:
            out[k] = v
    return out
