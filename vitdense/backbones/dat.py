"""DAT: Vision Transformer with Deformable Attention (Xia et al., CVPR 2022) and DAT++ (Xia et al.,
arXiv 2309.01430), as dense-prediction backbones.

One block design, chosen per block by a letter of ``stage_spec`` (the official notation):
``L`` window attention, ``S`` shifted-window attention (shift ``ceil(window / 2)``), ``N``
neighborhood attention (NATTEN semantics, :mod:`vitdense.layers.neighborhood`), ``D`` deformable
attention: a depth-wise conv + LN + GELU + 1x1 conv on the queries predicts one offset per
reference point of a ``stride``-times coarser grid, keys and values are sampled there with
``F.grid_sample``, and a bias is read from a continuous ``rpe_table`` at each query-to-sample
displacement.

* ``DAT`` is the CVPR'22 network (official classification code, LeapLabTHU/DAT @ 566a593): 4x4
  patch stem, 2x2 strided-conv downsampling, plain MLPs, sampling grids normalised by the grid
  size (cell centres), offsets bounded by ``tanh * factor / size``.
* ``DATPlusPlus`` is DAT++ (LeapLabTHU/DAT @ 32173fc and the dense code of DAT-Detection /
  DAT-Segmentation): two 3x3/2 convs as stem, 3x3/2 conv downsampling, a depth-wise conv in the MLP
  with a residual, a 3x3 depth-wise "local perception unit" before every block, grids normalised
  by ``size - 1`` and sample positions clamped to the map.

Any input size: window attention pads its (normalised) map to the window with zeros and crops
(as DAT-Detection does); neighborhood attention pads maps smaller than the kernel (as NATTEN
does); the continuous ``rpe_table`` serves every map size, and DAT's strided patch convs pad the
input to a multiple of 4 and odd maps to even sizes. Outputs have ``ceil(H / stride)`` rows for
strides 4, 8, 16, 32. One deviation from the official code: on a map with a side of 1 the official
DAT++ grids divide by zero; there the normalised coordinate is 0 (the centre).

Parameter names are those of the official releases up to ``LayerNormProxy.norm`` and the MLP
containers; ``convert_dat_checkpoint`` maps the official classification and dense checkpoints.
"""
import math
import re
from functools import partial
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import (DropPath, LayerNorm2d, Mlp, attention, drop_path_rates, gather_relative_bias,
                      maybe_checkpoint, pad_to_multiple, relative_position_index,
                      resize_relative_position_table, shifted_window_mask, window_partition, window_reverse)
from ..layers.neighborhood import NeighborhoodAttention2d
from ..layers.shape import depthwise_conv_channels_last
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class WindowAttention(nn.Module):
    """``L`` / ``S`` blocks: (shifted) window attention on a channels-first map; the map is padded
    to the window with zeros (no mask for the padding) and cropped back."""

    def __init__(self, dim, heads, window_size, attn_drop=0.0, proj_drop=0.0, shift_size=0):
        super().__init__()
        if dim % heads:
            raise ValueError(f'dim={dim} is not divisible by heads={heads}')
        if not 0 <= shift_size < window_size:
            raise ValueError(f'shift {shift_size} must lie in [0, window {window_size})')
        self.heads = heads
        self.window_size = window_size
        self.shift_size = shift_size
        self.attn_drop = attn_drop
        self.proj_qkv = nn.Linear(dim, 3 * dim)
        self.proj_out = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.01)
        self.register_buffer('relative_position_index', relative_position_index(window_size),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        ws, s = self.window_size, self.shift_size
        x = pad_to_multiple(x.permute(0, 2, 3, 1), ws)
        Hp, Wp = x.shape[1:3]
        bias = gather_relative_bias(self.relative_position_bias_table, self.relative_position_index)[None]
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
            bias = bias + shifted_window_mask(Hp, Wp, ws, s, device=x.device, dtype=x.dtype).unsqueeze(1)
        win = window_partition(x, ws)  # (B * nW, N, C)
        n, N = win.shape[:2]
        q, k, v = self.proj_qkv(win).reshape(n, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        if bias.shape[0] > 1:  # one mask per window position: group the sequences by image
            q, k, v = (t.reshape(B, -1, *t.shape[1:]) for t in (q, k, v))
        y = attention(q, k, v, bias, dropout_p=self.attn_drop if self.training else 0.0)
        y = y.reshape(n, self.heads, N, -1).transpose(1, 2).reshape(n, N, C)
        y = window_reverse(self.proj_drop(self.proj_out(y)), ws, Hp, Wp)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        return y[:, :H, :W].permute(0, 3, 1, 2)


def _grid_coords(n: int, centres: bool, plus_plus: bool, dtype, device) -> torch.Tensor:
    """Normalised [-1, 1] coordinates of ``n`` grid positions, as the official code computes them.

    DAT++: reference points ``linspace(0.5, n - 0.5) / (n - 1)`` (``centres``) and query grid
    ``arange(n) / (n - 1)``; DAT (CVPR'22): ``(i + 0.5) / n`` for both."""
    if not plus_plus:
        return torch.linspace(0.5, n - 0.5, n, dtype=dtype, device=device).div(n).mul(2.0).sub(1.0)
    if n == 1:
        return torch.zeros(1, dtype=dtype, device=device)
    t = (torch.linspace(0.5, n - 0.5, n, dtype=dtype, device=device) if centres
         else torch.arange(0, n, dtype=dtype, device=device))
    return t.div(n - 1.0).mul(2.0).sub(1.0)


def _grid(h: int, w: int, centres: bool, plus_plus: bool, dtype, device) -> torch.Tensor:
    """``(h, w, 2)`` (y, x) normalised grid."""
    ys = _grid_coords(h, centres, plus_plus, dtype, device)
    xs = _grid_coords(w, centres, plus_plus, dtype, device)
    return torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1)


class DeformableAttention(nn.Module):
    """``D`` blocks: deformable multi-head attention (the official ``DAttentionBaseline`` with the
    settings of the released models: learned offsets, continuous ``rpe_table`` bias or none).

    Args:
        dim, heads: channels and heads; ``groups`` offset groups (heads and channels are split
            evenly between them).
        stride: the sample grid is ``stride`` times coarser than the map (the offset conv's stride).
        ksize: kernel of the depth-wise offset conv.
        offset_range_factor: >= 0 bounds offsets to ``factor`` grid cells with a tanh; < 0 leaves
            them free (DAT++ then clamps positions to the map, DAT squashes them with a tanh).
        use_pe: the continuous relative position bias table.
        fmap_size: map size of the pre-training, which sizes ``rpe_table``
            ``(heads, 2H - 1, 2W - 1)``; the table is continuous, any map reads it.
        plus_plus: DAT++ grid conventions (see module doc).
    """

    def __init__(self, dim, heads, groups, stride=1, ksize=3, offset_range_factor=-1.0, use_pe=True,
                 fmap_size=(56, 56), attn_drop=0.0, proj_drop=0.0, plus_plus=True):
        super().__init__()
        if dim % heads or heads % groups:
            raise ValueError(f'DAT deformable attention: dim {dim} must divide by heads {heads}, and heads '
                             f'by groups {groups}')
        self.heads, self.groups = heads, groups
        self.head_channels = dim // heads
        self.group_channels = dim // groups
        self.offset_range_factor = offset_range_factor
        self.plus_plus = plus_plus
        self.attn_drop = attn_drop
        gc = self.group_channels
        pad = 0 if (plus_plus and ksize == stride) else ksize // 2
        self.conv_offset = nn.Sequential(
            nn.Conv2d(gc, gc, ksize, max(stride, 1), pad, groups=gc), LayerNorm2d(gc), nn.GELU(),
            nn.Conv2d(gc, 2, 1, 1, 0, bias=False))
        self.proj_q = nn.Conv2d(dim, dim, 1)
        self.proj_k = nn.Conv2d(dim, dim, 1)
        self.proj_v = nn.Conv2d(dim, dim, 1)
        self.proj_out = nn.Conv2d(dim, dim, 1)
        self.proj_drop = nn.Dropout(proj_drop)
        self.rpe_table = None
        if use_pe:
            fh, fw = fmap_size
            self.rpe_table = nn.Parameter(torch.zeros(heads, 2 * fh - 1, 2 * fw - 1))
            nn.init.trunc_normal_(self.rpe_table, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        g, gc, pp = self.groups, self.group_channels, self.plus_plus
        dtype, device = x.dtype, x.device
        q = self.proj_q(x)
        offset = self.conv_offset(q.reshape(B * g, gc, H, W))  # (B*g, 2, Hk, Wk)
        Hk, Wk = offset.shape[2:]
        orf = self.offset_range_factor
        if orf > 0 or (pp and orf == 0):
            rng = ([1.0 / max(Hk - 1.0, 1.0), 1.0 / max(Wk - 1.0, 1.0)] if pp else [1.0 / Hk, 1.0 / Wk])
            offset = offset.tanh().mul(torch.tensor(rng, device=device).reshape(1, 2, 1, 1)).mul(orf)
        # sample positions (B*g, Hk, Wk, 2) as (y, x)
        pos = offset.permute(0, 2, 3, 1) + _grid(Hk, Wk, True, pp, dtype, device)
        if orf < 0:
            pos = pos.clamp(-1.0, 1.0) if pp else pos.tanh()
        sampled = F.grid_sample(x.reshape(B * g, gc, H, W), pos[..., (1, 0)], mode='bilinear',
                                align_corners=True)  # (B*g, gc, Hk, Wk)
        sampled = sampled.reshape(B, C, 1, Hk * Wk)
        k = self.proj_k(sampled).reshape(B, self.heads, self.head_channels, -1).transpose(-1, -2)
        v = self.proj_v(sampled).reshape(B, self.heads, self.head_channels, -1).transpose(-1, -2)
        q = q.permute(0, 2, 3, 1).reshape(B, H * W, self.heads, self.head_channels).transpose(1, 2)
        bias = None
        if self.rpe_table is not None:
            q_grid = _grid(H, W, False, pp, dtype, device).reshape(1, H * W, 1, 2)
            disp = (q_grid - pos.reshape(B * g, 1, Hk * Wk, 2)).mul(0.5)  # (B*g, HW, Ns, 2)
            th, tw = self.rpe_table.shape[1:]
            table = self.rpe_table.to(dtype).reshape(1, g, -1, th, tw).expand(B, -1, -1, -1, -1)
            bias = F.grid_sample(table.reshape(B * g, -1, th, tw), disp[..., (1, 0)],
                                 mode='bilinear', align_corners=True)  # (B*g, heads/g, HW, Ns)
            bias = bias.reshape(B, self.heads, H * W, Hk * Wk)
        out = attention(q, k, v, bias, dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(B, H, W, C).permute(0, 3, 1, 2)
        return self.proj_drop(self.proj_out(out))


class ConvResMlp(nn.Module):
    """DAT++ MLP on a channels-first map: 1x1 conv -> x + 3x3 depth-wise conv(x) -> GELU -> 1x1 conv."""

    def __init__(self, dim: int, expansion: int, drop: float = 0.0):
        super().__init__()
        hidden = dim * expansion
        self.linear1 = nn.Conv2d(dim, hidden, 1)
        self.dwc = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = nn.GELU()
        self.linear2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.linear1(x))
        x = self.act(x + depthwise_conv_channels_last(self.dwc, x))
        return self.drop(self.linear2(x))


class TokenMlp(Mlp):
    """DAT's plain MLP applied to a channels-first map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class NeighborhoodBlockAttention(NeighborhoodAttention2d):
    """``N`` blocks: NATTEN's module on a channels-first map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class DATStage(nn.Module):
    """The blocks of one stage, in the official layout (parallel lists indexed by block)."""

    def __init__(self, dim, spec, heads, groups, window_size, nat_ksize, stride, ksize, offset_range_factor,
                 use_pe, fmap_size, expansion, drop, attn_drop, drop_path, use_dwc_mlp, use_lpu, plus_plus,
                 with_cp):
        super().__init__()
        depth = len(spec)
        self.with_cp = with_cp
        self.use_lpu = use_lpu
        self.layer_norms = nn.ModuleList([LayerNorm2d(dim) for _ in range(2 * depth)])
        self.mlps = nn.ModuleList([
            ConvResMlp(dim, expansion, drop) if use_dwc_mlp else TokenMlp(dim, dim * expansion, drop=drop)
            for _ in range(depth)])
        self.local_perception_units = nn.ModuleList([
            nn.Conv2d(dim, dim, 3, 1, 1, groups=dim) if use_lpu else nn.Identity() for _ in range(depth)])
        attns = []
        for kind in spec:
            if kind in 'LS':
                attns.append(WindowAttention(dim, heads, window_size, attn_drop, drop,
                                             math.ceil(window_size / 2) if kind == 'S' else 0))
            elif kind == 'N':
                attns.append(NeighborhoodBlockAttention(dim, heads, nat_ksize, attn_drop=attn_drop,
                                                        proj_drop=drop))
            elif kind == 'D':
                attns.append(DeformableAttention(dim, heads, groups, stride, ksize, offset_range_factor, use_pe,
                                                 fmap_size, attn_drop, drop, plus_plus))
            else:
                raise ValueError(f"DAT: unknown block letter {kind!r} in stage_spec; use 'L', 'S', 'N' "
                                 "or 'D'")
        self.attns = nn.ModuleList(attns)
        self.drop_path = nn.ModuleList([DropPath(p) if p > 0 else nn.Identity() for p in drop_path])

    def _block(self, d: int, x: torch.Tensor) -> torch.Tensor:
        if self.use_lpu:
            x = x + depthwise_conv_channels_last(self.local_perception_units[d], x)
        x = x + self.drop_path[d](self.attns[d](self.layer_norms[2 * d](x)))
        return x + self.drop_path[d](self.mlps[d](self.layer_norms[2 * d + 1](x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # channels-last inside a stage: depth-wise convs, LayerNorm2d and the token views of the
        # attentions then need no layout copies
        x = x.contiguous(memory_format=torch.channels_last)
        for d in range(len(self.attns)):
            x = maybe_checkpoint(partial(self._block, d), x, enabled=self.with_cp)
        return x


def _specs(*stages):
    return tuple(tuple(s) for s in stages)


@MODELS.register_module()
class DAT(BaseBackbone):
    """Deformable Attention Transformer (CVPR 2022).

    Args:
        arch: 'tiny' | 'small' | 'base', or a dict with ``dims``, ``depths`` (or ``stage_spec``),
            ``heads``, ``stage_spec``, ``groups``; optional keys ``use_pes``, ``strides``,
            ``offset_range_factor``, ``ksizes``, ``window_sizes``, ``nat_ksizes`` (per stage; an int
            is used for all stages; defaults of the zoo).
        img_size: pre-training image size; sizes the ``rpe_table`` of the deformable blocks
            (a checkpoint of another size is resized bicubically on load, as DAT-Detection does).
        expansion: MLP ratio.
        drop_rate, attn_drop_rate, drop_path_rate: dropout, attention dropout, stochastic depth
            (all 0 by default, as in the official class; the configs set the paper values).
        out_indices: stages returned (strides 4, 8, 16, 32).
        out_norm: a LayerNorm on each returned map (the official dense code has them; the
            classification model has only the last one).
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also the first k stages (each with
            the downsampling that opens it and its output norm).
        with_cp: activation checkpointing per block (the official dense code checkpoints stages).
        init_cfg: ``dict(type='Pretrained', checkpoint=...)``: official classification or dense
            checkpoints, converted on load.
    """

    converter = 'convert_dat_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    plus_plus = False
    arch_zoo = {
        'tiny': dict(dims=(96, 192, 384, 768), heads=(3, 6, 12, 24), groups=(-1, -1, 3, 6),
                     stage_spec=_specs('LS', 'LS', 'LD' * 3, 'LD')),
        'small': dict(dims=(96, 192, 384, 768), heads=(3, 6, 12, 24), groups=(-1, -1, 3, 6),
                      stage_spec=_specs('LS', 'LS', 'LD' * 9, 'LD')),
        'base': dict(dims=(128, 256, 512, 1024), heads=(4, 8, 16, 32), groups=(-1, -1, 4, 8),
                     stage_spec=_specs('LS', 'LS', 'LD' * 9, 'LD')),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base']})
    arch_defaults = dict(use_pes=(False, False, True, True), strides=(-1, -1, 1, 1),
                         offset_range_factor=(-1, -1, 2, 2), ksizes=(9, 7, 5, 3), window_sizes=7,
                         nat_ksizes=7)
    essential_keys = ('dims', 'heads', 'groups', 'stage_spec')

    def __init__(self, arch='tiny', img_size=224, expansion=4, drop_rate=0.0, attn_drop_rate=0.0,
                 drop_path_rate=0.0, out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1, with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = dict(self.arch_defaults)
        cfg.update(resolve_arch(arch, self.arch_zoo, self.essential_keys, name))
        dims, heads, specs = tuple(cfg['dims']), tuple(cfg['heads']), _specs(*cfg['stage_spec'])
        if not (len(dims) == len(heads) == len(specs) == 4):
            raise ValueError(f'{name}: dims, heads and stage_spec need 4 entries each, got {dims}, {heads}, '
                             f'{specs}')
        self.arch = cfg
        self.num_stages = 4
        self.num_features = list(dims)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.frozen_stages = frozen_stages
        pp = self.plus_plus

        if pp:  # two 3x3/2 convs
            self.patch_proj = nn.Sequential(
                nn.Conv2d(3, dims[0] // 2, 3, 2, 1), LayerNorm2d(dims[0] // 2), nn.GELU(),
                nn.Conv2d(dims[0] // 2, dims[0], 3, 2, 1), LayerNorm2d(dims[0]))
        else:  # non-overlapping 4x4 patches
            self.patch_proj = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4, 0), LayerNorm2d(dims[0]))
        dpr = drop_path_rates(drop_path_rate, [len(s) for s in specs])
        per_stage = {k: (v,) * 4 if isinstance(v, int) else tuple(v) for k, v in cfg.items()
                     if k in ('window_sizes', 'nat_ksizes')}
        fmap = img_size // 4
        self.stages = nn.ModuleList()
        for i in range(4):
            self.stages.append(DATStage(
                dims[i], specs[i], heads[i], cfg['groups'][i], per_stage['window_sizes'][i],
                per_stage['nat_ksizes'][i],
                cfg['strides'][i], cfg['ksizes'][i], cfg['offset_range_factor'][i], cfg['use_pes'][i],
                (fmap, fmap), expansion, drop_rate, attn_drop_rate, dpr[i], use_dwc_mlp=pp, use_lpu=pp,
                plus_plus=pp, with_cp=with_cp))
            fmap //= 2
        k, p = (3, 1) if pp else (2, 0)
        self.down_projs = nn.ModuleList([
            nn.Sequential(nn.Conv2d(dims[i], dims[i + 1], k, 2, p, bias=False), LayerNorm2d(dims[i + 1]))
            for i in range(3)])
        self.norms = nn.ModuleList([
            LayerNorm2d(dims[i]) if (out_norm and i in self.out_indices) else nn.Identity()
            for i in range(4)])
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:
            # The official ``reset_parameters`` loops over parameters looking for modules and so
            # changes nothing: PyTorch's default init plus the truncated-normal position tables set
            # at construction is the official random init.
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_proj)
        for i in range(min(self.frozen_stages, self.num_stages)):
            if i > 0:
                freeze(self.down_projs[i - 1])
            freeze(self.stages[i])
            freeze(self.norms[i])

    def forward(self, x: torch.Tensor):
        if not self.plus_plus:  # strided patch convs: pad, so that no row or column is dropped
            x = F.pad(x, (0, -x.shape[3] % 4, 0, -x.shape[2] % 4))
        x = self.patch_proj(x)
        outs = []
        for i in range(self.num_stages):
            if i > 0:
                if not self.plus_plus:
                    x = F.pad(x, (0, x.shape[3] % 2, 0, x.shape[2] % 2))
                x = self.down_projs[i - 1](x)
            x = self.stages[i](x)
            if i in self.out_indices:
                outs.append(self.norms[i](x).contiguous())
        return tuple(outs)

    def _adapt_shapes(self, sd, own):
        for k, v in list(sd.items()):
            if k in own and own[k].shape != v.shape and own[k].dim() == v.dim():
                if k.endswith('rpe_table'):  # (heads, 2H-1, 2W-1): DAT-Detection's bicubic resize
                    v = F.interpolate(v[None].float(), size=own[k].shape[1:], mode='bicubic')[0]
                    sd[k] = v.to(own[k].dtype)
                elif k.endswith('relative_position_bias_table'):
                    sd[k] = resize_relative_position_table(v, own[k].shape[0])
        return super()._adapt_shapes(sd, own)


@MODELS.register_module()
class DATPlusPlus(DAT):
    """DAT++ (Xia et al., 2023): neighborhood attention and deformable attention blocks, conv stem,
    conv MLPs and local perception units. Arguments as :class:`DAT`; arch 'tiny' | 'small' | 'base'."""

    model_name_prefix = 'datpp'  # vitdense.get_model('datpp_...')
    plus_plus = True
    arch_zoo = {
        'tiny': dict(dims=(64, 128, 256, 512), heads=(2, 4, 8, 16), groups=(1, 2, 4, 8),
                     stage_spec=_specs('ND', 'ND' * 2, 'ND' * 9, 'DD')),
        'small': dict(dims=(96, 192, 384, 768), heads=(3, 6, 12, 24), groups=(1, 2, 3, 6),
                      stage_spec=_specs('ND', 'ND' * 2, 'ND' * 9, 'DD')),
        'base': dict(dims=(128, 256, 512, 1024), heads=(4, 8, 16, 32), groups=(2, 4, 8, 16),
                     stage_spec=_specs('ND', 'ND' * 2, 'ND' * 9, 'DD')),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base']})
    arch_defaults = dict(use_pes=(True, True, True, True), strides=(8, 4, 2, 1),
                         offset_range_factor=(-1, -1, -1, -1), ksizes=(9, 7, 5, 3), window_sizes=7,
                         nat_ksizes=7)


# ----------------------------------------------------------------------------- checkpoint conversion

_LN_PROXY = re.compile(r'\.norm\.(weight|bias)$')


def convert_dat_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a DAT / DAT++ checkpoint to this module's names.

    Understood layouts: the official classification releases (``cls_norm`` = the last stage's
    output norm, ``cls_head`` dropped) and the official DAT-Detection / DAT-Segmentation backbones
    (``norms.i``; ``backbone.`` prefix stripped on load). ``LayerNormProxy`` wrappers lose their
    ``.norm``, the MLP containers their inner index; derived buffers (``relative_position_index``,
    ``attn_mask``) are dropped.
    """
    out = {}
    for k, v in state_dict.items():
        if k.startswith('cls_head.') or k.endswith(('relative_position_index', 'attn_mask')):
            continue
        if k.startswith('cls_norm.'):
            k = 'norms.3.' + k[len('cls_norm.'):]
        k = _LN_PROXY.sub(r'.\1', k)
        k = k.replace('.chunk.linear1.', '.fc1.').replace('.chunk.linear2.', '.fc2.')
        k = k.replace('.linear1.0.', '.linear1.').replace('.linear2.0.', '.linear2.')
        out[k] = v
    return out
