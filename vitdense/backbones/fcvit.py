"""FCViT (Ma et al., arXiv 2212.12552, "A Close Look at Spatial Modeling: From Attention to
Convolution"), after the official ma-xu/FCViT ``models/fcvit.py`` (classification, and the
``fcvit_b12_feat`` / ``fcvit_b24_feat`` dense backbones of its detection and segmentation code).

A MetaFormer on ``(B, C, H, W)`` maps: a ``7x7/4 conv -> BN`` stem, ``3x3/2 conv -> BN`` between
stages, and blocks

    x = x + drop_path(layer_scale_1 * TokenMixer(GN(x)))
    x = x + drop_path(layer_scale_2 * ChannelMixer(GN(x)))

with one-group GroupNorms. The token mixer runs two rounds of "add the global context, then a
depth-wise 11x11 conv and a 1x1 bottleneck MLP":

    x = x + GC1(x);  x = GELU(fc1(dw1(x)));  x = x + GC2(x);  x = GELU(fc2(dw2(x)))

(``fc`` = 1x1 conv to ``max(C / 8, 16)`` -> GELU -> 1x1 conv back). The global context ``GC`` is
the token-global similarity of the released models: the channels form 8 groups; for each group
and position, the dot product of the token with the group's average token (scaled by
``(C / 8) ** -0.5``), standardised over all groups and positions (mean and unbiased std of the
whole map), then an affine map per group (``rescale_weight``/``rescale_bias``), weights the
group's slice of a context vector ``fc2(max over 2 of fc1(avg token))`` (the "competing" bottleneck,
``C -> 2 x C/8 -> max -> C``). The channel mixer is ``1x1 conv -> 3x3 depth-wise conv -> GELU ->
1x1 conv`` (MLP ratios 8, 8, 4, 4). The options of the official ``params`` dict that no released
model uses (spatial/channel attention, a single mixing round, a plain context MLP) are left out.

Dense form: the official ``fcvit_*_feat`` backbones return the four stage outputs, each through a
``GroupNorm(1, C)`` (``norm0..3`` here; ``out_norm=False`` gives the raw stage outputs). The
classifier's final ``norm`` becomes ``norm3``; its ``head`` is dropped. The stem/downsampling
BatchNorms come from ``norm_cfg``; ``norm_eval`` keeps them in eval mode while training.

Inputs of any size: the 7x7/4/pad-3 stem and the 3x3/2/pad-1 convs already give ``ceil(H / s)``,
so nothing is padded and the outputs equal the official ones at every size. The global context
standardises over the whole map, so (as in the official code) features are not translation-local.

Parameter names follow ours (``downsample_layers.i.{proj,norm}``, ``stages.i.j.*``, ``norm{i}``);
``convert_fcvit_checkpoint`` reads the official classification and dense layouts
(``patch_embed``, ``network.{0..6}``, ``norm`` / ``norm{0,2,4,6}``, ``head``).
"""
import re
from typing import Dict

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from ..layers import DropPath, drop_path_rates, maybe_checkpoint
from ..layers.norm import batchnorms_to_eval
from ..layers.weight_init import init_conv_fan_out_, init_linear_and_layernorm_
from ..registry import MODELS
from ._convert import rename_final_norm
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch

GROUPS = 8  # channel groups ("heads") of the global context
GC_REDUCTION = 8  # bottleneck of the context vector
FC_FACTOR, FC_MIN = 8, 16  # 1x1 bottleneck after each depth-wise conv: max(C / 8, 16) channels


class Downsampling(nn.Module):
    """Official ``OverlapPatchEmbed``: ``proj`` conv (kernel k, stride s, padding k // 2) -> ``norm``."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, stride: int, norm_cfg: dict):
        super().__init__()
        self.proj = nn.Conv2d(in_dim, out_dim, kernel_size, stride, kernel_size // 2)
        self.norm = build_norm_layer(norm_cfg, out_dim)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class GlobalContext(nn.Module):
    """Token-global similarity times a bottlenecked context vector (official weighted, competing
    ``GlobalContext``); returns a ``(B, C, H, W)`` map that is added to the input."""

    def __init__(self, dim: int, groups: int = GROUPS, reduction: int = GC_REDUCTION, eps: float = 1e-5):
        super().__init__()
        if dim % groups or dim % reduction:
            raise ValueError(f'FCViT: channels {dim} must be divisible by the {groups} context groups and '
                             f'the context reduction {reduction}')
        self.groups, self.eps = groups, eps
        self.scale = (dim // groups) ** -0.5
        self.fc1 = nn.Linear(dim, 2 * dim // reduction)
        self.fc2 = nn.Linear(dim // reduction, dim)
        self.rescale_weight = nn.Parameter(torch.ones(groups))
        self.rescale_bias = nn.Parameter(torch.zeros(groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        g = self.groups
        tokens = x.reshape(B, g, C // g, H * W)
        avg = tokens.mean(dim=-1)  # (B, g, C/g): each group's average token
        sim = torch.einsum('bgdn,bgd->bgn', tokens, avg) * self.scale
        std, mean = torch.std_mean(sim, dim=(1, 2), keepdim=True)
        sim = (sim - mean) / (std + self.eps)
        sim = sim * self.rescale_weight.view(1, g, 1) + self.rescale_bias.view(1, g, 1)
        ctx = self.fc1(avg.reshape(B, C)).reshape(B, 2, -1).amax(dim=1)
        ctx = self.fc2(ctx).reshape(B, g, C // g, 1)
        return (sim.unsqueeze(2) * ctx).reshape(B, C, H, W)


def _bottleneck(dim: int) -> nn.Sequential:
    hidden = max(dim // FC_FACTOR, FC_MIN)
    return nn.Sequential(nn.Conv2d(dim, hidden, 1), nn.GELU(), nn.Conv2d(hidden, dim, 1))


class TokenMixer(nn.Module):
    """Two rounds of ``x + GC(x) -> depth-wise kxk -> 1x1 bottleneck -> GELU`` (official names)."""

    def __init__(self, dim: int, kernel_size: int = 11):
        super().__init__()
        self.act = nn.GELU()
        for r in (1, 2):
            self.add_module(f'gc{r}', GlobalContext(dim))
            self.add_module(f'dw{r}', nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim))
            self.add_module(f'fc{r}', _bottleneck(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.gc1(x)
        x = self.act(self.fc1(self.dw1(x)))
        x = x + self.gc2(x)
        return self.act(self.fc2(self.dw2(x)))


class ChannelMixer(nn.Module):
    """``fc1`` 1x1 -> ``dwconv`` 3x3 depth-wise -> GELU -> ``fc2`` 1x1."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x))))


class FCViTBlock(nn.Module):

    def __init__(self, dim: int, mlp_ratio: float, kernel_size: int = 11, drop_path: float = 0.0,
                 layer_scale_init_value: float = 1e-6):
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim)
        self.token_mixer = TokenMixer(dim, kernel_size)
        self.norm2 = nn.GroupNorm(1, dim)
        self.channel_mixer = ChannelMixer(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.layer_scale_1 = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1.view(1, -1, 1, 1) * self.token_mixer(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2.view(1, -1, 1, 1) * self.channel_mixer(self.norm2(x)))


@MODELS.register_module()
class FCViT(BaseBackbone):
    """FCViT backbone.

    Args:
        arch: 'tiny' | 'b12' | 'b24' | 'b48', or a dict with ``depths`` and ``dims`` (multiples of
            8) and optionally ``mlp_ratios`` ((8, 8, 4, 4)) and ``kernel_size`` (11).
        in_channels: input image channels.
        drop_path_rate: stochastic depth, increasing linearly over all blocks (the official dense
            configs leave it at 0).
        layer_scale_init_value: initial layer scales (1e-6 as the official dense backbones; the
            classifiers start at 1e-5).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a ``GroupNorm(1, C)`` on each returned stage, as the official dense backbones;
            False returns the raw stage outputs.
        norm_cfg: the BatchNorms of the stem and downsampling convs (``dict(type='BN')`` official).
        norm_eval: keep those BatchNorms in eval mode while training.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (with their
            downsampling convs and output norms).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official classification
            and detection/segmentation checkpoints are converted on load.
    """

    converter = 'convert_fcvit_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'tiny': dict(depths=(3, 3, 5, 2), dims=(32, 64, 160, 320)),
        'b12': dict(depths=(2, 2, 6, 2), dims=(64, 128, 320, 512)),
        'b24': dict(depths=(4, 4, 12, 4), dims=(64, 128, 320, 512)),
        'b48': dict(depths=(8, 8, 24, 8), dims=(64, 128, 320, 512)),
    }
    arch_zoo['t'] = arch_zoo['tiny']

    def __init__(self, arch='b12', in_channels=3, drop_path_rate=0.0, layer_scale_init_value=1e-6,
                 out_indices=(0, 1, 2, 3), out_norm=True, norm_cfg=dict(type='BN'), norm_eval=False,
                 frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'dims'), 'FCViT')
        depths, dims = tuple(cfg['depths']), tuple(cfg['dims'])
        mlp_ratios = tuple(cfg.get('mlp_ratios', (8, 8, 4, 4)))
        if not len(depths) == len(dims) == len(mlp_ratios):
            raise ValueError(f'FCViT: depths {depths}, dims {dims} and mlp_ratios {mlp_ratios} must have '
                             f'one entry per stage')
        kernel_size = cfg.get('kernel_size', 11)
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'FCViT')
        self.num_features = list(dims)
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp

        self.downsample_layers = nn.ModuleList(
            [Downsampling(in_channels, dims[0], 7, 4, norm_cfg)] +
            [Downsampling(dims[i - 1], dims[i], 3, 2, norm_cfg) for i in range(1, self.num_stages)])
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            nn.Sequential(*[FCViTBlock(dims[i], mlp_ratios[i], kernel_size, rate, layer_scale_init_value)
                            for rate in dpr[i]]) for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.GroupNorm(1, dims[i]) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init: fan-out normal convs, trunc-normal Linears
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init_conv_fan_out_(m)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.downsample_layers[0])
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(self.downsample_layers[i])
            freeze(self.stages[i])
            freeze(getattr(self, f'norm{i}', None))

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            batchnorms_to_eval(self)
        return self

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x = self.downsample_layers[i](x)
            for block in self.stages[i]:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)


def convert_fcvit_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an FCViT checkpoint's weights to ``FCViT``'s names.

    Understood layouts: the official classifiers (``patch_embed.{proj,norm}``, ``network.{2i}``
    stage ``i``, ``network.{2i+1}`` the downsampling into stage ``i+1``, final ``norm``, ``head``)
    and the official dense checkpoints (the same with ``norm0/2/4/6``). The final ``norm`` becomes
    the last stage's output norm (``norm3``); the head is dropped. Our own format passes unchanged.
    """
    if not any(k.startswith(('patch_embed.', 'network.')) for k in state_dict):
        return dict(state_dict)
    out = {}
    for k, v in state_dict.items():
        if k.startswith('head.'):
            continue
        if k.startswith('patch_embed.'):
            k = 'downsample_layers.0.' + k[len('patch_embed.'):]
        elif k.startswith('network.'):
            idx, rest = k[len('network.'):].split('.', 1)
            idx = int(idx)
            k = f'downsample_layers.{idx // 2 + 1}.{rest}' if idx % 2 else f'stages.{idx // 2}.{rest}'
        elif re.match(r'norm\d+\.', k):
            idx, rest = k[len('norm'):].split('.', 1)
            k = f'norm{int(idx) // 2}.{rest}'
        out[k] = v
    return rename_final_norm(out, 'stages')
