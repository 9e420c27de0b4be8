"""InceptionNeXt (Yu et al., CVPR 2024, arXiv 2303.16900, "InceptionNeXt: When Inception Meets
ConvNeXt"), the dense-prediction form of the official sail-sg/inceptionnext ``models/inceptionnext.py``
(classification only; timm's ``inception_next_*`` is the same code).

A MetaNeXt network: a ``4x4/4 conv -> BN`` stem, then four stages; stages 1..3 open with a
``BN -> 2x2/2 conv`` downsampling layer (``stages.i.downsample``, inside the stage, as timm and the
official code place it), so stage ``i`` outputs at stride ``4 * 2**i``. Every block is

    x = x + drop_path(gamma * mlp(norm(token_mixer(x))))

with a BatchNorm ``norm``, a 1x1-conv GELU MLP (ratio 4, 3 in the last stage) and layer scale
``gamma`` (init 1e-6). The token mixer is the Inception depth-wise conv: the channels are split into
an identity part and three branches of ``branch_ratio * C`` channels (1/8 each; 1/4 for atto),
``3x3``, ``1 x k`` and ``k x 1`` depth-wise convs (band kernel k = 11; 9 for atto).

Dense form (the official repository has no dense code): the four raw stage outputs, optionally each
through a BatchNorm of ``norm_cfg`` (``out_norm=True``, ``norm0..3``). Every BatchNorm is built from
``norm_cfg`` (``dict(type='SyncBN')`` in the segmentation configs); ``norm_eval`` keeps them in eval
mode while training.

Inputs of any size: the stem zero-pads the image to a multiple of 4, each downsampling layer
zero-pads an odd map after its BatchNorm (what the conv's own zero padding would read), so stage
``i`` has ``ceil(H / 2**(i+2))`` rows and no pixel is dropped. The official code (and timm) floors;
at multiples of 32 both agree.

Parameter names are the official ones (``stem.{0,1}``, ``stages.i.downsample.{0,1}``,
``stages.i.blocks.j.{token_mixer.dwconv_hw,dwconv_w,dwconv_h,norm,mlp.fc1,mlp.fc2,gamma}``), which
timm shares, so official and timm checkpoints load as they are once the classifier (``head.*``) is
dropped.
"""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import trunc_normal_

from ..layers import DropPath, drop_path_rates, maybe_checkpoint
from ..layers.norm import batchnorms_to_eval
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch
from .metaformer import PointwiseMlp


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad a ``(B, C, H, W)`` map at the bottom/right to multiples of ``multiple``."""
    ph, pw = (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x


class InceptionDWConv2d(nn.Module):
    """Inception depth-wise conv: channels ``[identity | 3x3 | 1 x k | k x 1]``, each branch
    ``int(C * branch_ratio)`` channels, the identity part the rest (the official split order)."""

    def __init__(self, dim: int, square_kernel_size: int = 3, band_kernel_size: int = 11,
                 branch_ratio: float = 0.125):
        super().__init__()
        gc = int(dim * branch_ratio)
        if gc < 1 or 3 * gc > dim:
            raise ValueError(f'InceptionNeXt: branch_ratio {branch_ratio} gives {gc} channels per branch '
                             f'for {dim} channels; it needs 1 <= 3 * branch channels <= {dim}')
        sq, band = square_kernel_size, band_kernel_size
        self.dwconv_hw = nn.Conv2d(gc, gc, sq, padding=sq // 2, groups=gc)
        self.dwconv_w = nn.Conv2d(gc, gc, (1, band), padding=(0, band // 2), groups=gc)
        self.dwconv_h = nn.Conv2d(gc, gc, (band, 1), padding=(band // 2, 0), groups=gc)
        self.split_indexes = (dim - 3 * gc, gc, gc, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_id, x_hw, x_w, x_h = torch.split(x, self.split_indexes, dim=1)
        return torch.cat((x_id, self.dwconv_hw(x_hw), self.dwconv_w(x_w), self.dwconv_h(x_h)), dim=1)


class MetaNeXtBlock(nn.Module):
    """``x + drop_path(gamma * mlp(norm(token_mixer(x))))`` on ``(B, C, H, W)`` maps."""

    def __init__(self, dim: int, token_mixer: nn.Module, norm_cfg: dict, mlp_ratio: float = 4.0,
                 ls_init_value: float = 1e-6, drop_path: float = 0.0):
        super().__init__()
        self.token_mixer = token_mixer
        self.norm = build_norm_layer(norm_cfg, dim)[1]
        self.mlp = PointwiseMlp(dim, int(mlp_ratio * dim))
        self.gamma = nn.Parameter(torch.full((dim, ), float(ls_init_value))) if ls_init_value else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.token_mixer(x)))
        if self.gamma is not None:
            y = y * self.gamma.view(1, -1, 1, 1)
        return x + self.drop_path(y)


class Stem(nn.Sequential):
    """Official ``stem``: ``0`` conv 4x4/4, ``1`` norm; the input is zero-padded to a multiple of 4."""

    def __init__(self, in_channels: int, dim: int, norm_cfg: dict):
        super().__init__(nn.Conv2d(in_channels, dim, 4, 4), build_norm_layer(norm_cfg, dim)[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[1](self[0](_pad_to_multiple(x, 4)))


class Downsample(nn.Sequential):
    """Official ``stages.i.downsample``: ``0`` norm, ``1`` conv 2x2/2 (odd maps zero-padded between)."""

    def __init__(self, in_dim: int, out_dim: int, norm_cfg: dict):
        super().__init__(build_norm_layer(norm_cfg, in_dim)[1], nn.Conv2d(in_dim, out_dim, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[1](_pad_to_multiple(self[0](x), 2))


class MetaNeXtStage(nn.Module):
    """``downsample`` (identity in stage 0) then ``blocks``."""

    def __init__(self, downsample: nn.Module, blocks):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(*blocks)


@MODELS.register_module()
class InceptionNeXt(BaseBackbone):
    """InceptionNeXt backbone.

    Args:
        arch: 'atto' | 'tiny' | 'small' | 'base' (or 't'/'s'/'b'; 'base_384' is the base arch), or a
            dict with ``depths`` and ``dims`` and optionally ``mlp_ratios`` ((4, 4, 4, 3)),
            ``band_kernel_size`` (11), ``branch_ratio`` (0.125), ``square_kernel_size`` (3).
        in_channels: input image channels.
        drop_path_rate: stochastic depth, increasing linearly over all blocks.
        ls_init_value: initial layer scale (1e-6); 0 disables it (no ``gamma``).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a ``norm_cfg`` norm on each returned stage (``norm0..3``, our addition; the
            official network has none); False (default) returns the raw stage outputs, timm's
            ``forward_intermediates``.
        norm_cfg: every BatchNorm of the network (stem, downsampling, blocks, output norms):
            ``dict(type='BN')`` (official), ``dict(type='SyncBN')`` for multi-GPU dense training.
        norm_eval: keep all BatchNorms in eval mode (running statistics frozen) while training.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (with their
            downsampling layers and output norms).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official and timm
            checkpoints are converted on load (the classifier head is dropped).
    """

    converter = 'convert_inceptionnext_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'atto': dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), band_kernel_size=9, branch_ratio=0.25),
        'tiny': dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
        'small': dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
        'base': dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
    }
    arch_zoo.update({'a': arch_zoo['atto'], 't': arch_zoo['tiny'], 's': arch_zoo['small'],
                     'b': arch_zoo['base'], 'base_384': arch_zoo['base']})

    def __init__(self, arch='tiny', in_channels=3, drop_path_rate=0.0, ls_init_value=1e-6,
                 out_indices=(0, 1, 2, 3), out_norm=False, norm_cfg=dict(type='BN'), norm_eval=False,
                 frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'dims'), 'InceptionNeXt')
        depths, dims = tuple(cfg['depths']), tuple(cfg['dims'])
        self.num_stages = len(depths)
        mlp_ratios = cfg.get('mlp_ratios', (4, ) * (self.num_stages - 1) + (3, ))
        if isinstance(mlp_ratios, (int, float)):
            mlp_ratios = (mlp_ratios, ) * self.num_stages
        mlp_ratios = tuple(mlp_ratios)
        if not len(depths) == len(dims) == len(mlp_ratios):
            raise ValueError(f'InceptionNeXt: depths {depths}, dims {dims} and mlp_ratios {mlp_ratios} '
                             f'must have one entry per stage')
        mixer_kw = dict(square_kernel_size=cfg.get('square_kernel_size', 3),
                        band_kernel_size=cfg.get('band_kernel_size', 11),
                        branch_ratio=cfg.get('branch_ratio', 0.125))
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'InceptionNeXt')
        self.num_features = list(dims)
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp

        self.stem = Stem(in_channels, dims[0], norm_cfg)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            MetaNeXtStage(
                Downsample(dims[i - 1], dims[i], norm_cfg) if i > 0 else nn.Identity(),
                [MetaNeXtBlock(dims[i], InceptionDWConv2d(dims[i], **mixer_kw), norm_cfg, mlp_ratios[i],
                               ls_init_value, rate) for rate in dpr[i]])
            for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, dims[i])[1] if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init (training from scratch, tests)
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    trunc_normal_(m.weight, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
            return
        super().init_weights()

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
            x = stage.downsample(x)
            for block in stage.blocks:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)


def convert_inceptionnext_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an InceptionNeXt checkpoint's weights to ``InceptionNeXt``'s names.

    The official release (``inceptionnext_*.pth``: ``stem``, ``stages.i.downsample``,
    ``stages.i.blocks.j``, MLP classifier ``head.{fc1,norm,fc2}``) and timm's ``inception_next_*``
    share our names; the classifier head is dropped. Our own format (with ``norm{i}`` output norms)
    passes unchanged; dense checkpoints lose their ``backbone.`` prefix before this is called.
    """
    return {k: v for k, v in state_dict.items() if not k.startswith('head.')}
