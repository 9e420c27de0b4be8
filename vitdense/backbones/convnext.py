"""ConvNeXt (Liu et al., CVPR 2022), the dense-prediction form of the official code.

A 4x4/4 patchify stem, then four stages of blocks ``7x7 depth-wise conv -> LayerNorm -> Linear
(4x) -> GELU -> Linear -> layer scale -> residual`` (stochastic depth on the residual), with a
``LayerNorm + 2x2/2 conv`` downsampling layer opening stages 1..3. The official object detection
and segmentation backbones add a channels-first LayerNorm (eps 1e-6) on each returned stage
(``norm0..norm3``).

Inputs of any size: the stem zero-pads the image to a multiple of 4 and each downsampling layer
zero-pads an odd map (after its LayerNorm, i.e. as the conv's own zero padding would), so stage
``i`` has ``ceil(H / 2**(i+2)) x ceil(W / 2**(i+2))`` cells and no pixel is dropped. (The official
code floors; at sizes divisible by 32, the only ones its dense pipelines feed, both agree.)

Parameter names are the official ones (``downsample_layers.{i}.{0,1}``, ``stages.{i}.{j}.dwconv``,
``.pwconv1``, ``.gamma``, ...), so official checkpoints load unchanged apart from the final
``norm``; ``convert_convnext_checkpoint`` also reads mmpretrain/mmdet/mmseg and timm checkpoints.
Layer-wise learning-rate decay: the names are those that mmdet's and mmseg's
``LearningRateDecayOptimizerConstructor`` expect for a backbone whose class name contains
``ConvNeXt`` (``backbone.downsample_layers.*``, ``backbone.stages.{i}.{j}.*``).
"""
import re
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import DropPath, LayerNorm2d, drop_path_rates, maybe_checkpoint
from ..layers.weight_init import init_linear_and_layernorm_
from ..registry import MODELS
from ._convert import rename_final_norm
from .base import (BaseBackbone, accepts_peer_args, check_out_indices, freeze, require_peer_values,
                   resolve_arch)


def _pad_to_stride(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Zero-pad a ``(B, C, H, W)`` map at the bottom/right to multiples of ``stride``."""
    ph, pw = (-x.shape[-2]) % stride, (-x.shape[-1]) % stride
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


class Stem(nn.Sequential):
    """``0``: 4x4/4 conv, ``1``: channels-first LayerNorm (official ``downsample_layers.0``)."""

    def __init__(self, in_channels: int, dim: int, patch_size: int = 4):
        super().__init__(nn.Conv2d(in_channels, dim, patch_size, patch_size), LayerNorm2d(dim, eps=1e-6))
        self.patch_size = patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[1](self[0](_pad_to_stride(x, self.patch_size)))


class Downsample(nn.Sequential):
    """``0``: channels-first LayerNorm, ``1``: 2x2/2 conv (official ``downsample_layers.1..3``)."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__(LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, out_dim, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[1](_pad_to_stride(self[0](x), 2))


class ConvNeXtBlock(nn.Module):
    """dwconv 7x7 -> LayerNorm -> pwconv1 -> GELU -> pwconv2 -> gamma -> drop path -> residual."""

    def __init__(self, dim: int, drop_path: float = 0.0, layer_scale_init_value: float = 1e-6,
                 mlp_ratio: float = 4.0):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, int(mlp_ratio * dim))
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(int(mlp_ratio * dim), dim)
        self.gamma = (nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))
                      if layer_scale_init_value > 0 else None)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        if self.gamma is not None:
            y = y * self.gamma
        return x + self.drop_path(y.permute(0, 3, 1, 2))


def mmpretrain_convnext_args(a: dict) -> dict:
    """mmpretrain's ``ConvNeXt`` arguments (used by mmdet's and mmseg's ConvNeXt configs): the
    structure switches must be ConvNeXt v1's (``use_grn=True`` is ConvNeXt V2, not built here)."""
    require_peer_values(a, 'ConvNeXt', stem_patch_size=4, norm_cfg={'type': 'LN2d', 'eps': 1e-6},
                        act_cfg={'type': 'GELU'}, linear_pw_conv=True, use_grn=False)
    return {}


mmpretrain_convnext_args.accepts = ('stem_patch_size', 'norm_cfg', 'act_cfg', 'linear_pw_conv', 'use_grn')


@MODELS.register_module()
class ConvNeXt(BaseBackbone):
    """ConvNeXt backbone.

    Args:
        arch: 'tiny' | 'small' | 'base' | 'large' | 'xlarge' (or t/s/b/l/xl), or a dict with
            ``depths`` and ``dims`` (one entry per stage).
        in_channels: input image channels.
        drop_path_rate: stochastic depth, increasing linearly over all blocks (official default 0;
            the official dense configs of T use 0.4).
        layer_scale_init_value: initial layer scale (1e-6); 0 disables it (no ``gamma``).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a channels-first LayerNorm on each returned stage, as the official dense code
            has; False returns the raw stage outputs (timm's ``forward_intermediates``).
        gap_before_final_norm: classification form: each returned stage is globally averaged
            before its norm (the official classifier's final ``norm``), giving ``(B, C, 1, 1)``.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (with their
            downsampling layers and output norms).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official, timm and
            mmpretrain/mmdet/mmseg checkpoints are converted on load.
    """

    converter = 'convert_convnext_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'tiny': dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
        'small': dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
        'base': dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
        'large': dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536)),
        'xlarge': dict(depths=(3, 3, 27, 3), dims=(256, 512, 1024, 2048)),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base'],
                     'l': arch_zoo['large'], 'xl': arch_zoo['xlarge']})

    @accepts_peer_args(mmpretrain_convnext_args, 'mmpretrain ConvNeXt')
    def __init__(self, arch='tiny', in_channels=3, drop_path_rate=0.0, layer_scale_init_value=1e-6,
                 out_indices=(0, 1, 2, 3), out_norm=True, gap_before_final_norm=False, frozen_stages=-1,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, dict) and 'channels' in arch and 'dims' not in arch:  # mmpretrain's spelling
            arch = {('dims' if k == 'channels' else k): v for k, v in arch.items()}
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'dims'), 'ConvNeXt')
        depths, dims = tuple(cfg['depths']), tuple(cfg['dims'])
        if len(depths) != len(dims):
            raise ValueError(f'ConvNeXt: depths {depths} and dims {dims} must have one entry per stage')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'ConvNeXt')
        self.num_features = list(dims)
        self.frozen_stages = frozen_stages
        self.gap_before_final_norm = gap_before_final_norm
        self.with_cp = with_cp

        self.downsample_layers = nn.ModuleList([Stem(in_channels, dims[0])] + [
            Downsample(dims[i - 1], dims[i]) for i in range(1, self.num_stages)])
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            nn.Sequential(*[ConvNeXtBlock(dims[i], rate, layer_scale_init_value) for rate in dpr[i]])
            for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(dims[i], eps=1e-6) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init (training from scratch, tests)
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    trunc_normal_(m.weight, std=0.02)
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
                y = x.mean((2, 3), keepdim=True) if self.gap_before_final_norm else x
                outs.append(getattr(self, f'norm{i}')(y))
        return tuple(outs)


# ----------------------------------------------------------------------------- checkpoint conversion

_TIMM_BLOCK = {'conv_dw.': 'dwconv.', 'mlp.fc1.': 'pwconv1.', 'mlp.fc2.': 'pwconv2.'}
_MMPRETRAIN_BLOCK = {'.depthwise_conv.': '.dwconv.', '.pointwise_conv1.': '.pwconv1.',
                     '.pointwise_conv2.': '.pwconv2.'}


def _from_timm(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        if k.startswith('stem.'):
            k = 'downsample_layers.0.' + k[len('stem.'):]
        elif re.match(r'stages\.\d+\.downsample\.', k):
            k = re.sub(r'stages\.(\d+)\.downsample\.', r'downsample_layers.\1.', k)
        elif re.match(r'stages\.\d+\.blocks\.', k):
            k = re.sub(r'stages\.(\d+)\.blocks\.', r'stages.\1.', k)
            for a, b in _TIMM_BLOCK.items():
                k = k.replace(a, b)
        elif k.startswith('head.norm.'):
            k = k[len('head.'):]
        out[k] = v
    return out


def convert_convnext_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a ConvNeXt checkpoint's weights to this module's names.

    Understood layouts: the official release (``downsample_layers``, ``stages.i.j.dwconv``, final
    ``norm``, ``head``) and the official dense checkpoints (``norm0..3``); mmpretrain / mmdet / mmseg
    (``depthwise_conv``, ``pointwise_conv1/2``, ``norm3``); timm (``stem``, ``stages.i.downsample``,
    ``stages.i.blocks``, ``conv_dw``, ``mlp.fc1/2``, ``head.norm``). The classifier's final ``norm``
    (applied to the pooled features) becomes the last stage's output norm, as in mmpretrain's
    checkpoints, which mmdet and mmseg fine-tune from; the classifier ``head`` is dropped.
    """
    sd = dict(state_dict)
    if any(k.startswith('stem.') or '.blocks.' in k for k in sd):
        sd = _from_timm(sd)
    out = {}
    for k, v in sd.items():
        if k.startswith('head.'):
            continue
        for a, b in _MMPRETRAIN_BLOCK.items():
            k = k.replace(a, b)
        if re.search(r'\.pwconv[12]\.weight$', k) and v.dim() == 4:  # 1x1-conv MLP variants
            v = v.flatten(1)
        out[k] = v
    return rename_final_norm(out, 'stages')
