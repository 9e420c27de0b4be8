"""RepNeXt (Zhao, Luo, Ouyang, arXiv 2406.16004), after the official suous/RepNeXt
``model/repnext.py`` (classification) and ``detection/repnext.py`` / ``segmentation/repnext.py``
(the same network returning the four stage outputs).

A MetaNeXt-style convolutional network with BatchNorms only and no layer scale or drop path:

- stem: ``ConvBN 3x3/2 -> GELU -> ConvBN 3x3/2`` (half the first width in between);
- block (stages 0..3): ``x + MLP(BN(ChunkConv(x)))``. ChunkConv splits the channels in four
  quarters: identity | small RepDWConv | medium RepDWConv | ``1x11 -> 11x1`` depth-wise;
- downsampling (start of stages 1..3): ``y = BN(CopyConv(x)); y + MLP(y)``. CopyConv runs a small
  and a medium RepDWConv at stride 2 on the whole input and concatenates them (twice the channels);
- MLP: ``ConvBN 1x1 -> GELU -> ConvBN 1x1`` with ratio 2.

The official code has no drop path; ``drop_path_rate`` (default 0) adds one to the blocks' residuals.

The re-parameterizable depth-wise convs (every conv bias on unless stated):

- small: ``3x3 + 1x3 + 3x1 + 2x2 (dilation 2)`` in parallel at stride 1; at stride 2 the ``1x3``
  and ``3x1`` are applied one after the other, without biases;
- medium: ``7x7 + 5x3 + 3x5`` in parallel with the serial ``1x7 -> 7x1`` and ``1x5 -> 5x1``
  (no biases on the serial convs).

``switch_to_deploy()`` (mmpretrain's convention) does what the official ``fuse`` does: each small
conv becomes one 3x3, each medium conv one 7x7, each ConvBN one conv with a bias; the standalone
BatchNorms after the token mixers and the serial ``1x11 -> 11x1`` stay (the official fused models
keep them too), so the fused parameter names are the official fused ones.

Inputs of any size: every strided conv here pads ``k // 2`` for an odd effective kernel, so stage
``i`` is ``ceil(H / 2**(i+2))`` without extra padding.

Parameter names are the official ones (``stem.stem.{0,2}``, ``stages.{i}.downsample``,
``stages.{i}.blocks.{j}.{token_mixer,norm,channel_mixer}``); the official releases (training form
``{'model': ...}`` and the fused TorchScript models) load once the classifier is dropped.
"""
import zipfile
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import DropPath, drop_path_rates, maybe_checkpoint
from ..registry import MODELS
from ..utils.torchscript import COMMAND as TORCHSCRIPT_COMMAND
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class ConvBN(nn.Sequential):
    """Conv (no bias) + BatchNorm, official ``ConvNorm``; ``fused()`` folds the BN into the conv."""

    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, padding=0):
        super().__init__()
        self.add_module('conv', nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False))
        self.add_module('norm', nn.BatchNorm2d(out_channels))

    @torch.no_grad()
    def fused(self) -> nn.Conv2d:
        conv, bn = self.conv, self.norm
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                        conv.dilation, conv.groups, bias=True, device=conv.weight.device,
                        dtype=conv.weight.dtype)
        out.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        out.bias.copy_(bn.bias - bn.running_mean * scale)
        return out


def _dw(channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
    return nn.Conv2d(channels, channels, kernel_size, stride, padding, dilation, groups=channels, bias=bias)


def _centered(w: torch.Tensor, k: int) -> torch.Tensor:
    """A ``(C, 1, kh, kw)`` kernel zero-padded to ``k x k`` around its centre."""
    ph, pw = (k - w.shape[-2]) // 2, (k - w.shape[-1]) // 2
    return F.pad(w, (pw, pw, ph, ph))


def _serial(conv_w: nn.Conv2d, conv_h: nn.Conv2d) -> torch.Tensor:
    """The ``k x k`` kernel of a bias-free ``1 x k`` conv followed by a ``k x 1`` conv (outer product)."""
    return conv_h.weight * conv_w.weight


class RepDWConvSmall(nn.Module):
    """Official ``RepDWConvS``: equivalent to one 3x3 depth-wise conv."""

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        sb = stride == 1
        self.conv_3_3 = _dw(channels, 3, stride, 1)
        self.conv_3_w = _dw(channels, (1, 3), (1, stride), (0, 1), bias=sb)
        self.conv_3_h = _dw(channels, (3, 1), (stride, 1), (1, 0), bias=sb)
        self.conv_2_2 = _dw(channels, 2, stride, 1, dilation=2)

    def forward(self, x):
        y = self.conv_3_3(x) + self.conv_2_2(x)
        if self.stride == 1:
            return y + self.conv_3_w(x) + self.conv_3_h(x)
        return y + self.conv_3_h(self.conv_3_w(x))

    @torch.no_grad()
    def fused(self) -> nn.Conv2d:
        dil = self.conv_2_2.weight.new_zeros(self.conv_3_3.weight.shape)
        dil[..., ::2, ::2] = self.conv_2_2.weight
        w = self.conv_3_3.weight + dil
        b = self.conv_3_3.bias + self.conv_2_2.bias
        if self.stride == 1:
            w = w + _centered(self.conv_3_w.weight, 3) + _centered(self.conv_3_h.weight, 3)
            b = b + self.conv_3_w.bias + self.conv_3_h.bias
        else:
            w = w + _serial(self.conv_3_w, self.conv_3_h)
        out = _dw(w.shape[0], 3, self.stride, 1).to(device=w.device, dtype=w.dtype)
        out.weight.copy_(w)
        out.bias.copy_(b)
        return out


class RepDWConvMedium(nn.Module):
    """Official ``RepDWConvM``: equivalent to one 7x7 depth-wise conv."""

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.conv_7_7 = _dw(channels, 7, stride, 3)
        self.conv_5_3 = _dw(channels, (5, 3), stride, (2, 1))
        self.conv_3_5 = _dw(channels, (3, 5), stride, (1, 2))
        self.conv_7_w = _dw(channels, (1, 7), (1, stride), (0, 3), bias=False)
        self.conv_7_h = _dw(channels, (7, 1), (stride, 1), (3, 0), bias=False)
        self.conv_5_w = _dw(channels, (1, 5), (1, stride), (0, 2), bias=False)
        self.conv_5_h = _dw(channels, (5, 1), (stride, 1), (2, 0), bias=False)

    def forward(self, x):
        return (self.conv_7_7(x) + self.conv_5_3(x) + self.conv_3_5(x) + self.conv_7_h(self.conv_7_w(x)) +
                self.conv_5_h(self.conv_5_w(x)))

    @torch.no_grad()
    def fused(self) -> nn.Conv2d:
        w = (self.conv_7_7.weight + _centered(self.conv_5_3.weight, 7) + _centered(self.conv_3_5.weight, 7) +
             _serial(self.conv_7_w, self.conv_7_h) + _centered(_serial(self.conv_5_w, self.conv_5_h), 7))
        out = _dw(w.shape[0], 7, self.stride, 3).to(device=w.device, dtype=w.dtype)
        out.weight.copy_(w)
        out.bias.copy_(self.conv_7_7.bias + self.conv_5_3.bias + self.conv_3_5.bias)
        return out


class ChunkConv(nn.Module):
    """Channel quarters: identity | small | medium | ``1x11 -> 11x1`` depth-wise convs."""

    def __init__(self, channels: int):
        super().__init__()
        if channels % 4:
            raise ValueError(f'RepNeXt: ChunkConv needs channels divisible by 4, got {channels}')
        c = channels // 4
        self.conv_s = RepDWConvSmall(c)
        self.conv_m = RepDWConvMedium(c)
        self.conv_l = nn.Sequential(_dw(c, (1, 11), padding=(0, 5)), _dw(c, (11, 1), padding=(5, 0)))

    def forward(self, x):
        i, s, m, l = torch.chunk(x, 4, dim=1)
        return torch.cat((i, self.conv_s(s), self.conv_m(m), self.conv_l(l)), dim=1)


class CopyConv(nn.Module):
    """A small and a medium RepDWConv at stride 2 on the same input, concatenated (2x channels)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_s = RepDWConvSmall(channels, stride=2)
        self.conv_m = RepDWConvMedium(channels, stride=2)

    def forward(self, x):
        return torch.cat((self.conv_s(x), self.conv_m(x)), dim=1)


def _mlp(channels: int, ratio: int) -> nn.Sequential:
    return nn.Sequential(ConvBN(channels, channels * ratio), nn.GELU(), ConvBN(channels * ratio, channels))


class RepNeXtStem(nn.Module):

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        mid = out_channels // 2
        self.stem = nn.Sequential(ConvBN(in_channels, mid, 3, 2, 1), nn.GELU(), ConvBN(mid, out_channels, 3, 2, 1))

    def forward(self, x):
        return self.stem(x)


class MetaNeXtBlock(nn.Module):
    """``x + MLP(BN(ChunkConv(x)))`` (``drop_path`` on the residual branch: ours, off by default)."""

    def __init__(self, channels: int, mlp_ratio: int, drop_path: float = 0.0):
        super().__init__()
        self.token_mixer = ChunkConv(channels)
        self.norm = nn.BatchNorm2d(channels)
        self.channel_mixer = _mlp(channels, mlp_ratio)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        return x + self.drop_path(self.channel_mixer(self.norm(self.token_mixer(x))))


class RepNeXtDownsample(nn.Module):
    """``y = BN(CopyConv(x)); y + MLP(y)``: half the size, twice the channels."""

    def __init__(self, in_channels: int, mlp_ratio: int):
        super().__init__()
        self.token_mixer = CopyConv(in_channels)
        self.norm = nn.BatchNorm2d(in_channels * 2)
        self.channel_mixer = _mlp(in_channels * 2, mlp_ratio)

    def forward(self, x):
        x = self.norm(self.token_mixer(x))
        return x + self.channel_mixer(x)


class RepNeXtStage(nn.Module):

    def __init__(self, in_channels: int, out_channels: int, mlp_ratio: int, downsample: bool, drop_path=(0.0, )):
        super().__init__()
        if downsample and out_channels != 2 * in_channels:
            raise ValueError(f'RepNeXt: a downsampling stage doubles the width; got {in_channels} -> '
                             f'{out_channels}')
        self.downsample = RepNeXtDownsample(in_channels, mlp_ratio) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[MetaNeXtBlock(out_channels, mlp_ratio, r) for r in drop_path])

    def forward(self, x):
        return self.blocks(self.downsample(x))


def _is_torchscript(path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split('/', 1)[-1] == 'constants.pkl' for n in z.namelist())
    except (OSError, zipfile.BadZipFile, TypeError):
        return False


@MODELS.register_module()
class RepNeXt(BaseBackbone):
    """RepNeXt backbone.

    Args:
        arch: 'm0' ... 'm5' (the official ``repnext_m*``), or a dict with ``embed_dims`` and
            ``depths`` (optional ``mlp_ratio``, default 2); each width must be divisible by 4 and
            twice the previous one.
        in_channels: input image channels.
        drop_path_rate: stochastic depth on the blocks' residual branches, increasing linearly over all
            blocks. Not in the official code (which has none, so 0 is the official setting).
        out_indices: stages whose outputs are returned (strides 4, 8, 16, 32); the raw stage outputs,
            as the official dense backbone returns them.
        norm_eval: keep every BatchNorm in eval mode while training (normalising with the running
            statistics, which stay fixed; the affine parameters still train): the official detection
            and segmentation backbones always do this.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (stage i > 0
            opens with its downsampling layer).
        deploy: build the fused (inference) form directly, the layout of the official ``*_fused.pt``
            releases; ``switch_to_deploy()`` turns a trained model into it.
        with_cp: activation checkpointing in every block and downsampling layer.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``: an official classification
            checkpoint (``{'model': ...}``, classifier dropped), an official dense checkpoint
            (``backbone.`` keys), our own, or (with ``deploy=True``) an official fused TorchScript file
            or its ``state_dict()``.
    """

    converter = 'convert_repnext_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'm0': dict(embed_dims=(40, 80, 160, 320), depths=(2, 2, 9, 1)),
        'm1': dict(embed_dims=(48, 96, 192, 384), depths=(3, 3, 15, 2)),
        'm2': dict(embed_dims=(56, 112, 224, 448), depths=(3, 3, 15, 2)),
        'm3': dict(embed_dims=(64, 128, 256, 512), depths=(3, 3, 13, 2)),
        'm4': dict(embed_dims=(64, 128, 256, 512), depths=(5, 5, 25, 4)),
        'm5': dict(embed_dims=(80, 160, 320, 640), depths=(7, 7, 35, 2)),
    }

    def __init__(self, arch='m3', in_channels=3, drop_path_rate=0.0, out_indices=(0, 1, 2, 3), norm_eval=False,
                 frozen_stages=-1, deploy=False, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths'), name)
        dims, depths = tuple(cfg['embed_dims']), tuple(cfg['depths'])
        mlp_ratio = int(cfg.get('mlp_ratio', 2))
        if len(dims) != len(depths):
            raise ValueError(f'{name}: embed_dims {dims} and depths {depths} must have one entry per stage')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(dims)
        self.norm_eval, self.frozen_stages, self.with_cp = norm_eval, frozen_stages, with_cp
        self.deploy = False

        self.stem = RepNeXtStem(in_channels, dims[0])
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.Sequential(*[
            RepNeXtStage(dims[max(i - 1, 0)], dims[i], mlp_ratio, downsample=i > 0, drop_path=dpr[i])
            for i in range(self.num_stages)])
        if deploy:
            self.switch_to_deploy()
        self._freeze_stages()

    @torch.no_grad()
    def switch_to_deploy(self):
        """Fuse every re-parameterizable conv and ConvBN in place (as the official ``fuse``)."""
        if self.deploy:
            return

        def fuse_children(module):
            for child_name, child in module.named_children():
                if isinstance(child, (ConvBN, RepDWConvSmall, RepDWConvMedium)):
                    new = child.fused()
                    new.train(child.training)
                    new.requires_grad_(all(p.requires_grad for p in child.parameters()))
                    setattr(module, child_name, new)
                else:
                    fuse_children(child)

        fuse_children(self)
        self.deploy = True

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.stem)
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(self.stages[i])

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def _read_checkpoint(self, checkpoint, map_location='cpu'):
        """The official fused releases are TorchScript archives, which the weights-only loader
        cannot read: refused with the one-off conversion that makes them a state dict."""
        if isinstance(checkpoint, str) and _is_torchscript(checkpoint):
            raise RuntimeError(
                f'{self.family()}: {checkpoint} is a TorchScript archive (the official fused release); '
                f'vitdense loads weights only with weights_only=True and does not run torch.jit.load '
                f'on its own. Convert it once (for a file you trust): {TORCHSCRIPT_COMMAND} '
                f'{checkpoint} OUT.pth, then load OUT.pth')
        return super()._read_checkpoint(checkpoint, map_location)

    def load_pretrained(self, checkpoint, prefix=None, map_location='cpu'):
        result = super().load_pretrained(checkpoint, prefix=prefix, map_location=map_location)
        # the stem's first conv names the form: 'stem.stem.0.weight' fused, 'stem.stem.0.conv.weight' not
        if {'stem.stem.0.weight', 'stem.stem.0.conv.weight'} & set(result.unexpected_keys):
            raise RuntimeError(f'{self.family()}: {checkpoint} is in the '
                               f'{"training" if self.deploy else "fused (deploy)"} form and this model in '
                               f'the {"fused" if self.deploy else "training"} form; build it with '
                               f'deploy={not self.deploy} (or load the training form, then switch_to_deploy())')
        return result

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            if not isinstance(stage.downsample, nn.Identity):
                x = maybe_checkpoint(stage.downsample, x, enabled=self.with_cp)
            for block in stage.blocks:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


def convert_repnext_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a RepNeXt checkpoint's weights to this module's names.

    The official releases already use our names, in both forms: the training form
    (``repnext_m*_distill_300e.pth``, ``{'model': ...}``; the dense ``repnext_m*_coco.pth`` /
    ``_ade20k.pth`` with ``backbone.`` keys are unwrapped before) and the fused TorchScript
    ``repnext_m*_distill_300e_fused.pt`` (our ``deploy=True`` / ``switch_to_deploy()`` names). The
    classifier (``head.head``/``head.head_dist`` NormLinears, or the fused ``head`` Linear) is
    dropped; our own checkpoints pass unchanged. No other library implements RepNeXt.
    """
    return {k: v for k, v in state_dict.items() if not k.startswith('head.') and k != 'head'}
