"""MetaFormer baselines: PoolFormer (Yu et al., CVPR 2022) and ConvFormer / CAFormer (Yu et al.,
TPAMI 2024, "MetaFormer Baselines for Vision"), the dense-prediction form.

All three are the same MetaFormer skeleton: a 7x7/4 conv stem, then four stages of blocks

    x = res_scale1(x) + layer_scale1(drop_path(token_mixer(norm1(x))))
    x = res_scale2(x) + layer_scale2(drop_path(mlp(norm2(x))))

with a 3x3/2 conv opening stages 1..3. The families differ only in what fills the slots:

- ``PoolFormer`` (sail-sg/poolformer): ``GroupNorm(1, C)`` norms, token mixer ``avgpool3x3(x) - x``
  (padding excluded from the average), GELU MLP with biases (1x1 convs), layer scale (1e-5 for
  S12/S24, 1e-6 for the deeper ones), no norm in the stem or the downsampling layers. It runs on
  ``(B, C, H, W)`` maps. The official dense code adds a ``GroupNorm(1, C)`` on every returned stage.
- ``ConvFormer`` / ``CAFormer`` (sail-sg/metaformer): bias-free LayerNorms (eps 1e-6), StarReLU
  (``s * relu(x)**2 + b``, learnable scalars) in bias-free MLPs, a LayerNorm after the stem conv and
  before each downsampling conv, residual scales (init 1) on the last two stages. ConvFormer mixes
  tokens with an inverted separable conv (Linear 2x -> StarReLU -> 7x7 depth-wise conv -> Linear);
  CAFormer does that in stages 0-1 and uses global self-attention (head dim 32, no biases, no
  position table) in stages 2-3. They run channels-last ``(B, H, W, C)``, as the official code.
  The official repository has no dense code; we close each returned stage with a LayerNorm (eps
  1e-6, with bias), the classifier's output norm, which the converter puts on the last stage.

Any input size: the 3x3/2/pad-1 downsampling convs already give ``ceil(H / 2)``; the 7x7/4/pad-2 stem
gives ``ceil(H / 4)`` except when ``H % 4 == 1`` (it floors there), so the input is zero-padded at
the bottom/right to a multiple of 4 first. The extra zeros are what the conv's own padding would
read, so wherever the official stem gives ``ceil(H / 4)`` the outputs are equal; nothing is cropped.
Attention has no position table, so CAFormer runs at any size too.

Parameter names follow the official MetaFormer release (``downsample_layers.{i}.{pre_norm,conv,
post_norm}``, ``stages.{i}.{j}.{norm1,token_mixer,...}``) for all three classes;
``convert_poolformer_checkpoint`` reads the official PoolFormer release / dense checkpoints
(``patch_embed``, ``network.{0..6}``), mmpretrain's ``PoolFormer`` (same layout) and timm's
``poolformer_*``; ``convert_metaformer_checkpoint`` reads the official ConvFormer/CAFormer release
and timm's ``convformer_*`` / ``caformer_*``.
"""
import re
from typing import Callable, Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import Attention, DropPath, Mlp, drop_path_rates, maybe_checkpoint
from ..layers.shape import depthwise_conv_channels_last
from ..registry import MODELS
from ._convert import rename_final_norm
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch

# ----------------------------------------------------------------------------- slot fillers


class Scale(nn.Module):
    """Per-channel scale (layer scale / residual scale); ``channels_last`` says where C is."""

    def __init__(self, dim: int, init_value: float, channels_last: bool):
        super().__init__()
        self.scale = nn.Parameter(torch.full((dim, ), float(init_value)))
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.scale if self.channels_last else self.scale.view(-1, 1, 1))


class StarReLU(nn.Module):
    """``scale * relu(x) ** 2 + bias`` with learnable scalars (MetaFormer baselines)."""

    def __init__(self, scale_value: float = 1.0, bias_value: float = 0.0):
        super().__init__()
        self.scale = nn.Parameter(torch.full((1, ), float(scale_value)))
        self.bias = nn.Parameter(torch.full((1, ), float(bias_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.relu(x).square() + self.bias


class Pooling(nn.Module):
    """PoolFormer's token mixer on ``(B, C, H, W)``: 3x3 average (padding not counted) minus input."""

    def __init__(self, pool_size: int = 3):
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x


class SepConv(nn.Module):
    """Inverted separable conv on ``(B, H, W, C)``: Linear -> StarReLU -> depth-wise kxk -> Linear."""

    def __init__(self, dim: int, expansion_ratio: float = 2.0, kernel_size: int = 7):
        super().__init__()
        mid = int(expansion_ratio * dim)
        self.pwconv1 = nn.Linear(dim, mid, bias=False)
        self.act1 = StarReLU()
        self.dwconv = nn.Conv2d(mid, mid, kernel_size, padding=kernel_size // 2, groups=mid, bias=False)
        self.pwconv2 = nn.Linear(mid, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.pwconv1(x))
        # the permuted view is a channels-last map: the depth-wise conv keeps it so, no copies
        x = depthwise_conv_channels_last(self.dwconv, x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.pwconv2(x)


class MapAttention(Attention):
    """Global self-attention over all cells of a ``(B, H, W, C)`` map (no biases, head dim 32)."""

    def __init__(self, dim: int, head_dim: int = 32):
        if dim % head_dim:
            raise ValueError(f'CAFormer: attention stages need channels divisible by the head dim '
                             f'{head_dim}, got {dim}; choose dims that are multiples of {head_dim}')
        super().__init__(dim, dim // head_dim, qkv_bias=False, proj_bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        return super().forward(x.reshape(B, H * W, C)).reshape(B, H, W, C)


class PointwiseMlp(nn.Module):
    """PoolFormer's MLP on ``(B, C, H, W)``: 1x1 conv -> GELU -> 1x1 conv (with biases)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def _group_norm(dim: int) -> nn.Module:
    return nn.GroupNorm(1, dim)  # the official PoolFormer GroupNorm (eps 1e-5)


def _layer_norm_no_bias(dim: int) -> nn.Module:
    return nn.LayerNorm(dim, eps=1e-6, bias=False)


# ----------------------------------------------------------------------------- shared skeleton


class Downsampling(nn.Module):
    """``pre_norm -> conv -> post_norm`` (official ``downsample_layers.i``). The conv takes NCHW; on
    channels-last families the norms act on ``(B, H, W, C)`` and the layout is permuted around the
    conv. ``pad_to`` zero-pads the conv input at the bottom/right to that multiple (the stem)."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, stride: int, padding: int,
                 pre_norm: Optional[Callable] = None, post_norm: Optional[Callable] = None,
                 channels_last: bool = False, from_image: bool = False, pad_to: int = 1):
        super().__init__()
        self.pre_norm = pre_norm(in_dim) if pre_norm else None
        self.conv = nn.Conv2d(in_dim, out_dim, kernel_size, stride, padding)
        self.post_norm = post_norm(out_dim) if post_norm else None
        self.channels_last = channels_last
        self.from_image = from_image  # the stem: the input is an NCHW image whatever the family's layout
        self.pad_to = pad_to

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm is not None:
            x = self.pre_norm(x)
        if self.channels_last and not self.from_image:
            x = x.permute(0, 3, 1, 2)
        ph, pw = (-x.shape[-2]) % self.pad_to, (-x.shape[-1]) % self.pad_to
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        x = self.conv(x)
        if self.channels_last:
            x = x.permute(0, 2, 3, 1)
        if self.post_norm is not None:
            x = self.post_norm(x)
        return x


class MetaFormerBlock(nn.Module):
    """One MetaFormer block; the mixer, MLP and norms come filled in by the family."""

    def __init__(self, dim: int, token_mixer: nn.Module, mlp: nn.Module, norm_layer: Callable,
                 drop_path: float = 0.0, layer_scale_init_value: Optional[float] = None,
                 res_scale_init_value: Optional[float] = None, channels_last: bool = False):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.token_mixer = token_mixer
        self.norm2 = norm_layer(dim)
        self.mlp = mlp
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        for k in (1, 2):
            ls = (Scale(dim, layer_scale_init_value, channels_last) if layer_scale_init_value is not None
                  else nn.Identity())
            rs = (Scale(dim, res_scale_init_value, channels_last) if res_scale_init_value is not None
                  else nn.Identity())
            self.add_module(f'layer_scale{k}', ls)
            self.add_module(f'res_scale{k}', rs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.res_scale1(x) + self.layer_scale1(self.drop_path(self.token_mixer(self.norm1(x))))
        return self.res_scale2(x) + self.layer_scale2(self.drop_path(self.mlp(self.norm2(x))))


class _MetaFormerBase(BaseBackbone):
    """Stem, downsampling layers, stages of ``MetaFormerBlock``, per-stage output norms, freezing and
    checkpointing; subclasses say what goes into the slots (``_mixer``, ``_mlp``, norms, scales)."""

    channels_last = False
    block_norm: Callable = staticmethod(_group_norm)
    stem_norm: Optional[Callable] = None       # after the stem conv
    downsample_norm: Optional[Callable] = None  # before each stride-2 conv
    out_norm_layer: Callable = staticmethod(_group_norm)

    def __init__(self, depths: Sequence[int], dims: Sequence[int], in_channels: int, drop_path_rate: float,
                 layer_scale_init_value: Optional[float], res_scale_init_values: Sequence[Optional[float]],
                 out_indices, out_norm: bool, frozen_stages: int, with_cp: bool, init_cfg):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        depths, dims = tuple(depths), tuple(dims)
        if len(depths) != len(dims):
            raise ValueError(f'{name}: depths {depths} and dims {dims} must have one entry per stage')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(dims)
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        cl = self.channels_last

        self.downsample_layers = nn.ModuleList([
            Downsampling(in_channels, dims[0], 7, 4, 2, post_norm=self.stem_norm, channels_last=cl,
                         from_image=True, pad_to=4)
        ] + [
            Downsampling(dims[i - 1], dims[i], 3, 2, 1, pre_norm=self.downsample_norm, channels_last=cl)
            for i in range(1, self.num_stages)
        ])
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            nn.Sequential(*[
                MetaFormerBlock(dims[i], self._mixer(i, dims[i]), self._mlp(dims[i]), self.block_norm, rate,
                                layer_scale_init_value, res_scale_init_values[i], cl) for rate in dpr[i]
            ]) for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', self.out_norm_layer(dims[i]) if out_norm else nn.Identity())
        self._freeze_stages()

    def _mixer(self, stage: int, dim: int) -> nn.Module:
        raise NotImplementedError

    def _mlp(self, dim: int) -> nn.Module:
        raise NotImplementedError

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
                y = getattr(self, f'norm{i}')(x)
                outs.append(y.permute(0, 3, 1, 2).contiguous() if self.channels_last else y)
        return tuple(outs)


# ----------------------------------------------------------------------------- the three families


@MODELS.register_module()
class PoolFormer(_MetaFormerBase):
    """PoolFormer backbone (MetaFormer with average pooling as token mixer).

    Args:
        arch: 's12' | 's24' | 's36' | 'm36' | 'm48', or a dict with ``depths``, ``dims`` and
            optionally ``layer_scale_init_value`` (1e-5) and ``mlp_ratio`` (4).
        in_channels: input image channels.
        pool_size: the pooling window of the token mixer (3).
        drop_path_rate: stochastic depth, increasing linearly over all blocks (the official dense
            configs leave it at 0).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a ``GroupNorm(1, C)`` on each returned stage, as the official dense code has;
            False returns the raw stage outputs (timm's ``forward_intermediates``).
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (with their
            downsampling convs and output norms).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official, mmpretrain and
            timm checkpoints are converted on load.
    """

    converter = 'convert_poolformer_checkpoint'  # defined below; see PretrainedLoaderMixin
    arch_zoo = {
        's12': dict(depths=(2, 2, 6, 2), dims=(64, 128, 320, 512), layer_scale_init_value=1e-5),
        's24': dict(depths=(4, 4, 12, 4), dims=(64, 128, 320, 512), layer_scale_init_value=1e-5),
        's36': dict(depths=(6, 6, 18, 6), dims=(64, 128, 320, 512), layer_scale_init_value=1e-6),
        'm36': dict(depths=(6, 6, 18, 6), dims=(96, 192, 384, 768), layer_scale_init_value=1e-6),
        'm48': dict(depths=(8, 8, 24, 8), dims=(96, 192, 384, 768), layer_scale_init_value=1e-6),
    }

    def __init__(self, arch='s12', in_channels=3, pool_size=3, drop_path_rate=0.0, out_indices=(0, 1, 2, 3),
                 out_norm=True, frozen_stages=-1, with_cp=False, init_cfg=None):
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'dims'), 'PoolFormer')
        self.pool_size = pool_size
        self.mlp_ratio = cfg.get('mlp_ratio', 4)
        super().__init__(cfg['depths'], cfg['dims'], in_channels, drop_path_rate,
                         cfg.get('layer_scale_init_value', 1e-5), [None] * len(cfg['depths']), out_indices,
                         out_norm, frozen_stages, with_cp, init_cfg)

    def _mixer(self, stage, dim):
        return Pooling(self.pool_size)

    def _mlp(self, dim):
        return PointwiseMlp(dim, int(dim * self.mlp_ratio))


class _MetaFormerV2Base(_MetaFormerBase):
    """ConvFormer / CAFormer: channels-last, bias-free LayerNorms, StarReLU MLPs, residual scales."""

    channels_last = True
    block_norm = staticmethod(_layer_norm_no_bias)
    stem_norm = staticmethod(_layer_norm_no_bias)
    downsample_norm = staticmethod(_layer_norm_no_bias)
    out_norm_layer = staticmethod(lambda dim: nn.LayerNorm(dim, eps=1e-6))
    converter = 'convert_metaformer_checkpoint'
    arch_zoo = {
        's18': dict(depths=(3, 3, 9, 3), dims=(64, 128, 320, 512)),
        's36': dict(depths=(3, 12, 18, 3), dims=(64, 128, 320, 512)),
        'm36': dict(depths=(3, 12, 18, 3), dims=(96, 192, 384, 576)),
        'b36': dict(depths=(3, 12, 18, 3), dims=(128, 256, 512, 768)),
    }
    attention_stages = ()

    def __init__(self, arch='s18', in_channels=3, drop_path_rate=0.0, res_scale_init_values=(None, None, 1.0, 1.0),
                 out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1, with_cp=False, init_cfg=None):
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'dims'), name)
        if len(res_scale_init_values) != len(cfg['depths']):
            raise ValueError(f'{name}: res_scale_init_values {tuple(res_scale_init_values)} needs one entry '
                             f'(a value or None) per stage of depths {tuple(cfg["depths"])}')
        super().__init__(cfg['depths'], cfg['dims'], in_channels, drop_path_rate, None, res_scale_init_values,
                         out_indices, out_norm, frozen_stages, with_cp, init_cfg)

    def _mixer(self, stage, dim):
        return MapAttention(dim) if stage in self.attention_stages else SepConv(dim)

    def _mlp(self, dim):
        return Mlp(dim, 4 * dim, act_layer=StarReLU, bias=False)


@MODELS.register_module()
class ConvFormer(_MetaFormerV2Base):
    """ConvFormer backbone (MetaFormer with inverted separable convs as token mixer).

    Args:
        arch: 's18' | 's36' | 'm36' | 'b36', or a dict with ``depths`` and ``dims``.
        in_channels: input image channels.
        drop_path_rate: stochastic depth, increasing linearly over all blocks.
        res_scale_init_values: residual-scale init per stage; None leaves the stage without one
            (official: ``(None, None, 1.0, 1.0)``).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a LayerNorm (eps 1e-6) on each returned stage (our choice: the official code has
            no dense form; the classifier's output norm loads into the last one); False returns the
            raw stage outputs (timm's ``forward_intermediates``).
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (with their
            downsampling layers and output norms).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official and timm
            checkpoints are converted on load.
    """


@MODELS.register_module()
class CAFormer(_MetaFormerV2Base):
    """CAFormer backbone: ConvFormer's separable-conv mixer in stages 0-1, global self-attention
    (head dim 32, no position table) in stages 2-3. Arguments as ``ConvFormer``."""

    attention_stages = (2, 3)


# ----------------------------------------------------------------------------- checkpoint conversion


def _from_timm(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """timm's MetaFormer layout (``stem``, ``stages.i.downsample``, ``stages.i.blocks.j``, ``head``)."""
    out = {}
    for k, v in sd.items():
        if k.startswith('stem.'):
            k = k.replace('stem.norm.', 'downsample_layers.0.post_norm.').replace('stem.', 'downsample_layers.0.')
        elif re.match(r'stages\.\d+\.downsample\.', k):
            k = re.sub(r'stages\.(\d+)\.downsample\.norm\.', r'downsample_layers.\1.pre_norm.', k)
            k = re.sub(r'stages\.(\d+)\.downsample\.', r'downsample_layers.\1.', k)
        elif re.match(r'stages\.\d+\.blocks\.', k):
            k = re.sub(r'stages\.(\d+)\.blocks\.', r'stages.\1.', k)
        elif k.startswith('head.norm.'):
            k = k[len('head.'):]
        out[k] = v
    return out


def _from_poolformer_v1(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The official PoolFormer / mmpretrain layout: ``patch_embed.proj``, ``network.{2i}`` (stage i),
    ``network.{2i+1}.proj`` (downsampling into stage i+1), ``layer_scale_{1,2}``, ``norm{2i}``."""
    out = {}
    for k, v in sd.items():
        if k.startswith('patch_embed.proj.'):
            k = 'downsample_layers.0.conv.' + k[len('patch_embed.proj.'):]
        elif k.startswith('network.'):
            idx, rest = k[len('network.'):].split('.', 1)
            idx = int(idx)
            if idx % 2:
                k = f'downsample_layers.{idx // 2 + 1}.' + rest.replace('proj.', 'conv.', 1)
            else:
                k = f'stages.{idx // 2}.' + re.sub(r'layer_scale_(\d)$', r'layer_scale\1.scale', rest)
        elif re.match(r'norm\d+\.', k):
            idx, rest = k[len('norm'):].split('.', 1)
            k = f'norm{int(idx) // 2}.{rest}'
        out[k] = v
    return out


def _finish(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Drop the classifier head; the classifier's final ``norm`` becomes the last stage's norm."""
    return rename_final_norm({k: v for k, v in sd.items() if not k.startswith('head.')}, 'stages')


def convert_poolformer_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a PoolFormer checkpoint's weights to ``PoolFormer``'s names.

    Understood layouts: the official release (``patch_embed.proj``, ``network.N``, ``norm``,
    ``head``) and its dense checkpoints (``norm0/2/4/6``), mmpretrain's ``PoolFormer`` (the same
    names, ``norm6`` for its classifiers), timm's ``poolformer_*`` (``stem.conv``,
    ``stages.i.downsample.conv``, ``stages.i.blocks.j``, ``head.norm``). The classifier's final norm
    becomes ``norm3`` (as mmpretrain's conversion does; the official dense code leaves ``norm6`` at
    its init); the head is dropped. MLP weights stay 1x1 convs.
    """
    sd = dict(state_dict)
    if any(k.startswith('network.') or k.startswith('patch_embed.') for k in sd):
        sd = _from_poolformer_v1(sd)
    elif any(k.startswith('stem.') or '.blocks.' in k for k in sd):
        sd = _from_timm(sd)
    out = {}
    for k, v in sd.items():
        if re.search(r'\.mlp\.fc[12]\.weight$', k) and v.dim() == 2:  # a Linear form of the 1x1 convs
            v = v[:, :, None, None]
        out[k] = v
    return _finish(out)


def convert_metaformer_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a ConvFormer / CAFormer checkpoint's weights to our names.

    Understood layouts: the official release (our names plus the final ``norm`` and the MLP
    ``head``) and timm's ``convformer_*`` / ``caformer_*`` (``stem``, ``stages.i.downsample``,
    ``stages.i.blocks.j``, 1x1-conv ``pwconv``/``fc`` weights, ``head.norm``, ``head.fc``). The
    classifier's final norm becomes the last stage's output norm; the head is dropped.
    """
    sd = dict(state_dict)
    if any(k.startswith('stem.') or '.blocks.' in k for k in sd):
        sd = _from_timm(sd)
    out = {}
    for k, v in sd.items():
        if re.search(r'\.(token_mixer\.pwconv[12]|mlp\.fc[12])\.weight$', k) and v.dim() == 4:
            v = v.flatten(1)
        out[k] = v
    return _finish(out)
