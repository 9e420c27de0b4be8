"""Conv2Former (Hou et al., TPAMI 2024, arXiv 2211.11943), after the official HVision-NKU/Conv2Former
``models/conv2former.py`` (the only model code released; classification only).

Stem: ``3x3/2 conv -> GELU -> BN -> 3x3 conv -> GELU -> BN -> 2x2/2 conv`` (no conv biases, half the
first width inside). Stages 1..3 open with ``LayerNorm + 2x2/2 conv``. Every block is

    x = x + drop_path(layer_scale_1 * ConvMod(x))
    x = x + drop_path(layer_scale_2 * MLP(x))

with the convolutional modulation ``ConvMod(x) = proj(DW_kxk(GELU(a1(n))) * v(n))``, ``n = LN(x)``
(all linear maps are 1x1 convs; k = 7 for N and the 22k-pretrained B, 11 otherwise), and an MLP
``fc2(h + GELU(DW_3x3(h)))``, ``h = GELU(fc1(LN(x)))`` (the residual around the depth-wise conv is
the official code's). LayerNorms are channels-first, eps 1e-6; layer scale starts at 1e-6.

Dense form (no official dense code exists): the four stage outputs, each through a channels-first
LayerNorm (``norm0..3``, as ConvNeXt's and Swin's dense backbones; ``out_norm=False`` returns the
raw stage outputs). The classifier's head (``head``: 1x1 conv to 1280 -> GELU -> LN, ``pred``) is
not part of the backbone and is dropped on load.

Inputs of any size: the stem's first conv already gives ``ceil(H / 2)``; before each 2x2/2 conv an
odd map is zero-padded at the bottom/right, so stage ``i`` has ``ceil(H / 2**(i+2))`` rows and no
pixel is dropped (the official code floors; at multiples of 32 both agree).

Parameter names are the official ones (``downsample_layers.{i}``, ``stages.{i}.{j}.attn.att.{0,2}``,
``.attn.v``, ``.attn.proj``, ``.mlp.fc1/pos/fc2``, ``.layer_scale_{1,2}``), so the official release
loads as it is, head aside.
"""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import DropPath, LayerNorm2d, drop_path_rates, maybe_checkpoint
from ..layers.weight_init import init_linear_and_layernorm_
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


def _pad_even(x: torch.Tensor) -> torch.Tensor:
    """Zero-pad an odd ``(B, C, H, W)`` map at the bottom/right so a 2x2/2 conv keeps every cell."""
    ph, pw = x.shape[-2] % 2, x.shape[-1] % 2
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


class Stem(nn.Sequential):
    """Official ``downsample_layers.0``: ``0`` conv 3x3/2, ``2`` BN, ``3`` conv 3x3, ``5`` BN,
    ``6`` conv 2x2/2 (``1``, ``4``: GELU)."""

    def __init__(self, in_channels: int, dim: int):
        mid = dim // 2
        super().__init__(
            nn.Conv2d(in_channels, mid, 3, 2, 1, bias=False), nn.GELU(), nn.BatchNorm2d(mid),
            nn.Conv2d(mid, mid, 3, 1, 1, bias=False), nn.GELU(), nn.BatchNorm2d(mid),
            nn.Conv2d(mid, dim, 2, 2, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(len(self) - 1):
            x = self[i](x)
        return self[-1](_pad_even(x))


class Downsample(nn.Sequential):
    """Official ``downsample_layers.1..3``: ``0`` channels-first LayerNorm, ``1`` conv 2x2/2."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__(LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, out_dim, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[1](_pad_even(self[0](x)))


class ConvMod(nn.Module):
    """Convolutional modulation: the large-kernel depth-wise conv of a GELU branch weights the
    value branch element-wise (official ``SpatialAttention``)."""

    def __init__(self, dim: int, kernel_size: int):
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.att = nn.Sequential(
            nn.Conv2d(dim, dim, 1), nn.GELU(),
            nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim))
        self.v = nn.Conv2d(dim, dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        return self.proj(self.att(x) * self.v(x))


class Conv2FormerMlp(nn.Module):
    """LN -> fc1 -> GELU -> (+ GELU(depth-wise 3x3)) -> fc2, 1x1 convs (official ``MLP``)."""

    def __init__(self, dim: int, mlp_ratio: int = 4):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.pos = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.fc1(self.norm(x)))
        return self.fc2(x + self.act(self.pos(x)))


class Conv2FormerBlock(nn.Module):

    def __init__(self, dim: int, kernel_size: int, mlp_ratio: int = 4, drop_path: float = 0.0,
                 layer_scale_init_value: float = 1e-6):
        super().__init__()
        self.attn = ConvMod(dim, kernel_size)
        self.mlp = Conv2FormerMlp(dim, mlp_ratio)
        self.layer_scale_1 = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1.view(-1, 1, 1) * self.attn(x))
        return x + self.drop_path(self.layer_scale_2.view(-1, 1, 1) * self.mlp(x))


@MODELS.register_module()
class Conv2Former(BaseBackbone):
    """Conv2Former backbone.

    Args:
        arch: 'nano' | 'tiny' | 'small' | 'base' | 'base_22k' | 'large' (or n/t/s/b/l), or a dict
            with ``depths``, ``dims`` and ``kernel_size`` (optional ``mlp_ratios``). 'base_22k' is
            the official ``conv2former_b_22k``: B with 7x7 modulation kernels.
        in_channels: input image channels.
        drop_path_rate: stochastic depth, increasing linearly over all blocks (official default 0).
        layer_scale_init_value: initial layer scale (the official 1e-6).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a channels-first LayerNorm (eps 1e-6) on each returned stage; False returns the
            raw stage outputs.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (with their
            downsampling layers and output norms). Frozen BatchNorms keep their running statistics.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``; the official release
            (``{'model': ...}`` or a bare state dict, classifier head included) is converted on load.
    """

    converter = 'convert_conv2former_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'nano': dict(depths=(2, 2, 8, 2), dims=(64, 128, 256, 512), kernel_size=7),
        'tiny': dict(depths=(3, 3, 12, 3), dims=(72, 144, 288, 576), kernel_size=11),
        'small': dict(depths=(4, 4, 32, 4), dims=(72, 144, 288, 576), kernel_size=11),
        'base': dict(depths=(4, 4, 34, 4), dims=(96, 192, 384, 768), kernel_size=11),
        'base_22k': dict(depths=(4, 4, 34, 4), dims=(96, 192, 384, 768), kernel_size=7),
        'large': dict(depths=(4, 4, 48, 4), dims=(128, 256, 512, 1024), kernel_size=11),
    }
    arch_zoo.update({'n': arch_zoo['nano'], 't': arch_zoo['tiny'], 's': arch_zoo['small'],
                     'b': arch_zoo['base'], 'l': arch_zoo['large']})

    def __init__(self, arch='tiny', in_channels=3, drop_path_rate=0.0, layer_scale_init_value=1e-6,
                 out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'dims', 'kernel_size'), name)
        depths, dims = tuple(cfg['depths']), tuple(cfg['dims'])
        mlp_ratios = tuple(cfg.get('mlp_ratios', (4, ) * len(depths)))
        if not len(depths) == len(dims) == len(mlp_ratios):
            raise ValueError(f'{name}: depths {depths}, dims {dims} and mlp_ratios {mlp_ratios} must have '
                             f'one entry per stage')
        if cfg['kernel_size'] % 2 != 1:
            raise ValueError(f'{name}: kernel_size must be odd (same-size depth-wise conv), got '
                             f'{cfg["kernel_size"]}')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(dims)
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp

        self.downsample_layers = nn.ModuleList([Stem(in_channels, dims[0])] + [
            Downsample(dims[i - 1], dims[i]) for i in range(1, self.num_stages)])
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            nn.Sequential(*[
                Conv2FormerBlock(dims[i], cfg['kernel_size'], mlp_ratios[i], rate, layer_scale_init_value)
                for rate in dpr[i]
            ]) for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(dims[i], eps=1e-6) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init: truncated-normal convs, zero biases
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    trunc_normal_(m.weight, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.downsample_layers[0])
        for i in range(self.frozen_stages):
            freeze(self.downsample_layers[i])
            freeze(self.stages[i])
            freeze(getattr(self, f'norm{i}', None))

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x = self.downsample_layers[i](x)
            for block in self.stages[i]:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)


def convert_conv2former_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a Conv2Former checkpoint's weights to this module's names.

    The official release already uses our names; its classifier (``head.*``: 1x1 conv to 1280,
    GELU, LayerNorm; ``pred.*``) is dropped. Our own checkpoints (with ``norm0..3``) pass unchanged.
    No other library implements Conv2Former, so there is no other layout to read.
    """
    return {k: v for k, v in state_dict.items() if not k.startswith(('head.', 'pred.'))}
