"""GRL: global, regional and local modelling for image restoration.

Li et al., "Efficient and Explicit Modelling of Image Hierarchies for Image Restoration", CVPR 2023.
Architecture facts (shapes, defaults, variant hyper-parameters, parameter names) follow the official
release github.com/ofsoundof/GRL-Image-Restoration (``models/networks/grl.py``,
``models/common/mixed_attn_block_efficient.py``, ``config/model/grl/*.yaml``); the code is our own.

Every block splits the channels in two halves that see the image at two ranges:

* regional: shifted window attention V2 (cosine similarity, learnable temperature, log-spaced
  continuous position bias) in ``window_size`` windows;
* global: anchored stripe attention: tokens of a long stripe attend to an average-pooled "anchor"
  copy of the stripe (``anchor_window_down_factor`` smaller) and the anchors attend back to the
  stripe, so a stripe of N tokens costs N * N / df^2 instead of N^2. Stripes alternate horizontal /
  vertical from block to block and are shifted in half of the blocks;
* local (GRL-B, ``local_connection``): a conv block with channel attention added beside the
  attention branch.

Feature maps inside a block are channels-last ``(B, H, W, C)``. Inputs of any size are padded to a
multiple of every window / stripe / anchor grid and the output is cropped back.
"""
import math
import re
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmengine.model import BaseModule

from vitdense.backbones.base import PretrainedLoaderMixin
from vitdense.layers.checkpoint import maybe_checkpoint
from vitdense.layers.cpb import CosineAttentionCPB, cpb_coords_table, cpb_index, grid_shift_mask
from vitdense.layers.drop import DropPath, drop_path_rates
from vitdense.layers.mlp import Mlp
from vitdense.layers.weight_init import init_linear_and_layernorm_
from vitdense.layers.window import shifted_window_mask, window_partition, window_reverse
from vitdense.registry import MODELS

__all__ = ['GRL', 'GRL_ARCHS', 'convert_grl_checkpoint']

# config/model/grl/grl_{tiny,small,base}.yaml of the official release. The task configs override the
# window / stripe sizes (e.g. window 32 and 64x64 stripes for classical SR), which changes no weight.
_COMMON = dict(window_size=8, stripe_size=(8, None), stripe_groups=(None, 4), stripe_shift=True,
               mlp_ratio=2.0, anchor_window_down_factor=4)
GRL_ARCHS: Dict[str, dict] = {
    'T': dict(embed_dim=64, depths=(4, 4, 4, 4), num_heads_window=(2,) * 4, num_heads_stripe=(2,) * 4,
              upsampler='pixelshuffledirect', local_connection=False, **_COMMON),
    'S': dict(embed_dim=128, depths=(4, 4, 4, 4), num_heads_window=(2,) * 4, num_heads_stripe=(2,) * 4,
              upsampler='pixelshuffle', local_connection=False, **_COMMON),
    'B': dict(embed_dim=180, depths=(4, 4, 8, 8, 8, 4, 4), num_heads_window=(3,) * 7,
              num_heads_stripe=(3,) * 7, upsampler='pixelshuffle', local_connection=True, **_COMMON),
}
_ARCH_ALIASES = {'tiny': 'T', 'small': 'S', 'base': 'B', 't': 'T', 's': 'S', 'b': 'B'}
_UPSAMPLERS = ('pixelshuffle', 'pixelshuffledirect', '')
RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean the network subtracts from RGB inputs


def stripe_geometry(stripe_size, stripe_groups, shift: bool, hw):
    """Stripe size and shift per axis: a fixed size, or ``dim // groups`` when a group count is set.

    Each block derives its own geometry. (The official code derives the vertical stripes' tables from
    the horizontal ones, which agrees only for square inputs when stripe groups are used; with fixed
    stripes, as in all official task configs, and for square inputs the two are identical.)
    """
    size, shift_size = [], []
    for s, g, d in zip(stripe_size, stripe_groups, hw):
        if g is None:
            size.append(int(s))
            shift_size.append(int(s) // 2 if shift else 0)
        else:
            size.append(d // g)
            shift_size.append(d // (2 * g) if (shift and g > 1) else 0)
    return tuple(size), tuple(shift_size)


def _split_heads(x: torch.Tensor, parts: int, heads: int) -> torch.Tensor:
    """``(B, N, parts * C)`` -> ``(parts, B, heads, N, C // heads)``."""
    B, N, C = x.shape
    return x.reshape(B, N, parts, heads, C // (parts * heads)).permute(2, 0, 3, 1, 4)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    B, h, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, h * d)


class WindowAttentionV2(nn.Module):
    """Shifted window self-attention with cosine similarity and continuous position bias, on a
    ``(B, H, W, 3C)`` qkv map (H, W multiples of the window)."""

    def __init__(self, window_size: int, num_heads: int, shift: bool, attn_drop: float = 0.0):
        super().__init__()
        self.window_size = (window_size, window_size)
        self.shift_size = (window_size // 2,) * 2 if shift else (0, 0)
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.attn_transform = CosineAttentionCPB(num_heads)

    def forward(self, qkv: torch.Tensor) -> torch.Tensor:
        B, H, W, C3 = qkv.shape
        ws, shift = self.window_size, self.shift_size
        mask = None
        if any(shift):
            qkv = torch.roll(qkv, shifts=(-shift[0], -shift[1]), dims=(1, 2))
            mask = shifted_window_mask(H, W, ws, shift)
        q, k, v = _split_heads(window_partition(qkv, ws), 3, self.num_heads)
        x = self.attn_transform(q, k, v, cpb_coords_table(ws), cpb_index(ws, ws), mask, self.attn_drop)
        x = window_reverse(_merge_heads(x), ws, H, W)
        if any(shift):
            x = torch.roll(x, shifts=shift, dims=(1, 2))
        return x


class AnchorStripeAttention(nn.Module):
    """Anchored stripe attention on a ``(B, H, W, 3C)`` qkv map and its ``(B, H/df, W/df, C)`` anchor
    map: anchors gather from the stripe's keys/values (``attn_transform1``), then the stripe's queries
    read from the anchors (``attn_transform2``)."""

    def __init__(self, stripe_size, stripe_groups, shift: bool, num_heads: int, down: int,
                 attn_drop: float = 0.0):
        super().__init__()
        self.stripe_size = tuple(stripe_size)
        self.stripe_groups = tuple(stripe_groups)
        self.shift = shift
        self.down = down
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.attn_transform1 = CosineAttentionCPB(num_heads)  # anchor -> stripe
        self.attn_transform2 = CosineAttentionCPB(num_heads)  # stripe -> anchor

    def forward(self, qkv: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        B, H, W, C3 = qkv.shape
        df = self.down
        ss, shift = stripe_geometry(self.stripe_size, self.stripe_groups, self.shift, (H, W))
        ass, ashift = tuple(s // df for s in ss), tuple(s // df for s in shift)
        mask_a2w = mask_w2a = None
        if self.shift:
            qkv = torch.roll(qkv, shifts=(-shift[0], -shift[1]), dims=(1, 2))
            anchor = torch.roll(anchor, shifts=(-ashift[0], -ashift[1]), dims=(1, 2))
            mask_a2w = grid_shift_mask((H, W), ss, shift, df, anchor_first=True)
            mask_w2a = grid_shift_mask((H, W), ss, shift, df, anchor_first=False)
        q, k, v = _split_heads(window_partition(qkv, ss), 3, self.num_heads)
        a = _split_heads(window_partition(anchor, ass), 1, self.num_heads)[0]
        table = cpb_coords_table(ss, ass)
        x = self.attn_transform1(a, k, v, table, cpb_index(ass, ss), mask_a2w, self.attn_drop)
        x = self.attn_transform2(q, a, x, table, cpb_index(ss, ass), mask_w2a, self.attn_drop)
        x = window_reverse(_merge_heads(x), ss, H, W)
        if self.shift:
            x = torch.roll(x, shifts=shift, dims=(1, 2))
        return x


class MixedAttention(nn.Module):
    """One shared qkv projection; half of the channels go to window attention, half to anchored stripe
    attention; the two outputs are concatenated and projected."""

    def __init__(self, dim: int, num_heads_window: int, num_heads_stripe: int, window_size: int,
                 window_shift: bool, stripe_size, stripe_groups, stripe_shift: bool, down: int,
                 qkv_bias: bool = True, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % 2 or (dim // 2) % num_heads_window or (dim // 2) % num_heads_stripe:
            raise ValueError(f'embed_dim={dim} must be even and each half divisible by the heads '
                             f'({num_heads_window} window, {num_heads_stripe} stripe)')
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.anchor_pool = nn.AvgPool2d(down, down)
        self.anchor_proj = nn.Linear(dim, dim // 2)
        self.window_attn = WindowAttentionV2(window_size, num_heads_window, window_shift, attn_drop)
        self.stripe_attn = AnchorStripeAttention(stripe_size, stripe_groups, stripe_shift, num_heads_stripe,
                                                 down, attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        C = x.shape[-1]
        qkv_window, qkv_stripe = self.qkv(x).split(3 * C // 2, dim=-1)
        anchor = self.anchor_proj(self.anchor_pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
        x = torch.cat([self.window_attn(qkv_window), self.stripe_attn(qkv_stripe, anchor)], dim=-1)
        return self.proj_drop(self.proj(x))


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gate (RCAN)."""

    def __init__(self, dim: int, reduction: int):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, dim // reduction, 1)
        self.fc2 = nn.Conv2d(dim // reduction, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        return x * w


class LocalConvBlock(nn.Module):
    """GRL-B's local branch: 3x3 conv (compress 4x) -> GELU -> 3x3 conv -> channel attention."""

    def __init__(self, dim: int, compress_ratio: int = 4, reduction: int = 18):
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim // compress_ratio, 3, padding=1)
        self.conv2 = nn.Conv2d(dim // compress_ratio, dim, 3, padding=1)
        self.ca = ChannelAttention(dim, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, W, C)
        x = x.permute(0, 3, 1, 2)
        x = self.ca(self.conv2(F.gelu(self.conv1(x))))
        return x.permute(0, 2, 3, 1)


class GRLBlock(nn.Module):
    """Mixed attention and MLP, both with post-normalised residuals (Swin V2 style)."""

    def __init__(self, dim: int, num_heads_window: int, num_heads_stripe: int, window_size: int,
                 window_shift: bool, stripe_size, stripe_groups, stripe_shift: bool, down: int,
                 mlp_ratio: float = 2.0, qkv_bias: bool = True, drop: float = 0.0, attn_drop: float = 0.0,
                 drop_path: float = 0.0, local_connection: bool = False):
        super().__init__()
        self.attn = MixedAttention(dim, num_heads_window, num_heads_stripe, window_size, window_shift,
                                   stripe_size, stripe_groups, stripe_shift, down, qkv_bias, attn_drop, drop)
        self.norm1 = nn.LayerNorm(dim)
        self.local = LocalConvBlock(dim) if local_connection else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.drop_path(self.norm1(self.attn(x)))
        if self.local is not None:
            out = out + self.local(x)  # local branch sees the block input, in parallel to attention
        return out + self.drop_path(self.norm2(self.mlp(out)))


class GRLStage(nn.Module):
    """``depth`` blocks and a 3x3 conv inside a long residual. Within a stage, even blocks use
    shifted windows and horizontal stripes, odd blocks plain windows and vertical (transposed)
    stripes; blocks 2 and 3 of every 4 shift their stripes."""

    def __init__(self, dim: int, depth: int, num_heads_window: int, num_heads_stripe: int, window_size: int,
                 stripe_size, stripe_groups, stripe_shift: bool, down: int, mlp_ratio: float,
                 qkv_bias: bool, drop: float, attn_drop: float, drop_path: Sequence[float],
                 local_connection: bool, with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.blocks = nn.ModuleList()
        for i in range(depth):
            horizontal = i % 2 == 0
            self.blocks.append(GRLBlock(
                dim, num_heads_window, num_heads_stripe, window_size, window_shift=horizontal,
                stripe_size=stripe_size if horizontal else stripe_size[::-1],
                stripe_groups=stripe_groups if horizontal else stripe_groups[::-1],
                stripe_shift=stripe_shift and i % 4 in (2, 3), down=down, mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias, drop=drop, attn_drop=attn_drop, drop_path=drop_path[i],
                local_connection=local_connection))
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, W, C)
        res = x
        for blk in self.blocks:
            res = maybe_checkpoint(blk, res, enabled=self.with_cp)
        res = self.conv(res.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return res + x


class PixelShuffleUpsampler(nn.Sequential):
    """log2(scale) x (3x3 conv to 4C, pixel shuffle 2), or one 3x3 conv to 9C + shuffle 3 for x3."""

    def __init__(self, scale: int, channels: int):
        layers = []
        if scale & (scale - 1) == 0:
            for _ in range(scale.bit_length() - 1):
                layers += [nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(channels, 9 * channels, 3, padding=1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f'upsampler "pixelshuffle" supports scales 2, 3, 4, 8 (2^n or 3), got {scale}')
        super().__init__(*layers)


def _resolve_arch(arch) -> dict:
    if isinstance(arch, dict):
        return dict(arch)
    key = _ARCH_ALIASES.get(str(arch).lower(), str(arch).upper())
    if key not in GRL_ARCHS:
        raise ValueError(f'unknown GRL arch {arch!r}; choose one of {sorted(GRL_ARCHS)} '
                         "(or 'tiny'/'small'/'base'), or pass a dict of the architecture settings")
    return dict(GRL_ARCHS[key])


@MODELS.register_module()
class GRL(PretrainedLoaderMixin, BaseModule):
    """GRL restoration network.

    Args:
        arch: 'T' / 'S' / 'B' (official tiny / small / base), or a dict with ``embed_dim``, ``depths``,
            ``num_heads_window``, ``num_heads_stripe``; the keyword arguments below override it.
        upscale: 2, 3, 4 (8) for super-resolution, 1 for denoising / JPEG artifact removal.
        in_channels / out_channels: image channels (out defaults to in).
        upsampler: 'pixelshuffle' (classical SR), 'pixelshuffledirect' (one conv + shuffle, GRL-T),
            or '' (x1: a conv back to the image and a global residual). Defaults to the arch's choice
            for ``upscale > 1`` and '' for ``upscale == 1``.
        window_size: window attention size. stripe_size / stripe_groups: per axis either a fixed
            stripe length (groups None) or a group count (the stripe spans ``dim // groups``).
        anchor_window_down_factor: anchor down-sampling (avg-pool) factor.
        img_range: the network works on ``(x - mean) * img_range``.
        with_cp: activation checkpointing per block.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH)`` loads an official GRL release (Lightning
            ``.ckpt`` or bare state_dict) or our own checkpoint through ``convert_grl_checkpoint``, the
            same route as the backbones (``PretrainedLoaderMixin``).
    """

    converter = 'convert_grl_checkpoint'  # defined below the class

    def __init__(self, arch='T', upscale: int = 4, in_channels: int = 3, out_channels: Optional[int] = None,
                 upsampler: Optional[str] = None, img_range: float = 1.0, qkv_bias: bool = True,
                 drop_rate: float = 0.0, attn_drop_rate: float = 0.0, drop_path_rate: float = 0.1,
                 num_out_feats: int = 64, with_cp: bool = False, init_cfg: Optional[dict] = None,
                 **overrides):
        super().__init__(init_cfg=init_cfg)
        cfg = _resolve_arch(arch)
        unknown = set(overrides) - set(GRL_ARCHS['T'])
        if unknown:
            raise TypeError(f'unknown GRL arguments {sorted(unknown)}; '
                            f'architecture settings are {sorted(GRL_ARCHS["T"])}')
        cfg.update(overrides)
        for key, value in _COMMON.items():
            cfg.setdefault(key, value)
        cfg.setdefault('local_connection', False)
        if upsampler is None:
            upsampler = cfg.get('upsampler', 'pixelshuffle') if upscale > 1 else ''
        if upsampler not in _UPSAMPLERS:
            raise ValueError(f'unknown upsampler {upsampler!r}; choose one of {_UPSAMPLERS}')
        if upscale < 1 or int(upscale) != upscale:
            raise ValueError(f'upscale must be a positive integer (1 for denoising/JPEG), got {upscale}')
        if (upscale == 1) != (upsampler == ''):
            raise ValueError(f'upscale={upscale} needs upsampler="" for x1 tasks and an upsampler '
                             f'("pixelshuffle"/"pixelshuffledirect") for SR; got upsampler={upsampler!r}')
        depths = tuple(cfg['depths'])
        heads_w, heads_s = tuple(cfg['num_heads_window']), tuple(cfg['num_heads_stripe'])
        if not len(depths) == len(heads_w) == len(heads_s):
            raise ValueError('depths, num_heads_window and num_heads_stripe need one entry per stage')
        stripe_size, stripe_groups = tuple(cfg['stripe_size']), tuple(cfg['stripe_groups'])
        if len(stripe_size) != 2 or len(stripe_groups) != 2 or any(
                (s is None) == (g is None) for s, g in zip(stripe_size, stripe_groups)):
            raise ValueError(f'per axis set exactly one of stripe_size / stripe_groups, got '
                             f'stripe_size={stripe_size}, stripe_groups={stripe_groups}')
        embed_dim, window_size, down = cfg['embed_dim'], cfg['window_size'], cfg['anchor_window_down_factor']
        out_channels = out_channels or in_channels

        self.arch = cfg
        self.upscale = int(upscale)
        self.upsampler = upsampler
        self.in_channels, self.out_channels = in_channels, out_channels
        self.img_range = img_range
        mean = RGB_MEAN if in_channels == 3 else (0.0,) * in_channels
        self.register_buffer('mean', torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        # every window, stripe and anchor grid must tile the padded input. The official code pads to
        # the largest of these sizes, which equals their lcm for all its configs; lcm also covers
        # sizes that do not divide each other (e.g. window 8 with 12 px stripes)
        sizes = [window_size] + [s for s in stripe_size if s] + [g * down for g in stripe_groups if g]
        self.pad_size = math.lcm(*sizes)
        for s in stripe_size:
            if s is not None and s % down:
                raise ValueError(f'stripe_size {s} must be a multiple of anchor_window_down_factor {down}')

        self.conv_first = nn.Conv2d(in_channels, embed_dim, 3, padding=1)
        self.norm_start = nn.LayerNorm(embed_dim)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.layers = nn.ModuleList([
            GRLStage(embed_dim, depths[i], heads_w[i], heads_s[i], window_size, stripe_size, stripe_groups,
                     cfg['stripe_shift'], down, cfg['mlp_ratio'], qkv_bias, drop_rate, attn_drop_rate, dpr[i],
                     cfg['local_connection'], with_cp)
            for i in range(len(depths))])
        self.norm_end = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, padding=1)

        if upsampler == 'pixelshuffle':
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_out_feats, 3, padding=1),
                                                      nn.LeakyReLU(inplace=True))
            self.upsample = PixelShuffleUpsampler(self.upscale, num_out_feats)
            self.conv_last = nn.Conv2d(num_out_feats, out_channels, 3, padding=1)
        elif upsampler == 'pixelshuffledirect':
            # one conv straight to scale^2 * out channels: the lightweight (GRL-T) reconstruction
            conv = nn.Conv2d(embed_dim, self.upscale ** 2 * out_channels, 3, padding=1)
            self.upsample = nn.Sequential(conv, nn.PixelShuffle(self.upscale))
        else:
            self.conv_last = nn.Conv2d(embed_dim, out_channels, 3, padding=1)
        init_linear_and_layernorm_(self)

    def _unwrap(self, ckpt: dict) -> Dict[str, torch.Tensor]:
        return ckpt  # convert_grl_checkpoint unwraps Lightning / BasicSR containers and prefixes

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        ph, pw = (-H) % self.pad_size, (-W) % self.pad_size
        if not (ph or pw):
            return x
        # reflect keeps image statistics at the border; it needs the pad to be smaller than the image
        mode = 'reflect' if ph < H and pw < W else 'constant'
        return F.pad(x, (0, pw, 0, ph), mode=mode)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pos_drop(self.norm_start(x.permute(0, 2, 3, 1)))
        for layer in self.layers:
            x = layer(x)
        return self.norm_end(x).permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'GRL expects (B, {self.in_channels}, H, W) images, got {tuple(x.shape)}')
        H, W = x.shape[-2:]
        x = self._pad(x)
        mean = self.mean.to(x.dtype)
        x = (x - mean) * self.img_range
        feat = self.conv_first(x)
        feat = self.conv_after_body(self.forward_features(feat)) + feat
        if self.upsampler == 'pixelshuffle':
            out = self.conv_last(self.upsample(self.conv_before_upsample(feat)))
        elif self.upsampler == 'pixelshuffledirect':
            out = self.upsample(feat)
        elif self.in_channels == self.out_channels:
            out = x + self.conv_last(feat)  # x1 tasks predict the residual to the degraded input
        else:
            out = self.conv_last(feat)
        out = out / self.img_range + mean
        return out[..., :H * self.upscale, :W * self.upscale]


# --------------------------------------------------------------------------------------------------
# Official checkpoint conversion
# --------------------------------------------------------------------------------------------------
# Buffers the official model stores (shared tables/indices/masks and per-module copies); we recompute
# them from the input size, so they are dropped.
_OFFICIAL_BUFFERS = re.compile(r'(^|\.)(table_\w+|index_\w+|mask_\w+|relative_coords_table|'
                               r'relative_position_index|attn_mask|mean)$')
_OFFICIAL_RENAMES = [
    (re.compile(r'^upsample\.up\.'), 'upsample.'),
    (re.compile(r'\.attn\.qkv\.body\.'), '.attn.qkv.'),
    (re.compile(r'\.attn\.anchor\.body\.0\.reduction\.'), '.attn.anchor_proj.'),
    (re.compile(r'\.conv\.cab\.0\.'), '.local.conv1.'),
    (re.compile(r'\.conv\.cab\.2\.'), '.local.conv2.'),
    (re.compile(r'\.conv\.cab\.3\.attention\.1\.'), '.local.ca.fc1.'),
    (re.compile(r'\.conv\.cab\.3\.attention\.3\.'), '.local.ca.fc2.'),
]
# options of the official code that the released models do not use and we do not implement
_UNSUPPORTED = re.compile(r'\.attn\.qkv\.body\.\d|\.attn\.anchor\.body\.0\.(weight|bias|\d)')


def convert_grl_checkpoint(checkpoint) -> Dict[str, torch.Tensor]:
    """Official GRL checkpoint (PyTorch Lightning ``.ckpt`` content or a bare state_dict) -> a state_dict
    for :class:`GRL`. Unwraps ``state_dict`` / ``params_ema`` / ``params``, strips the ``model.`` /
    ``module.`` prefixes (other Lightning sub-modules such as losses are dropped), drops the
    recomputed buffers and renames the few modules we name differently."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    sd = checkpoint
    for key in ('state_dict', 'params_ema', 'params'):
        if key in sd and isinstance(sd[key], dict):
            sd = sd[key]
            break
    keys = list(sd)
    for prefix in ('model.', 'module.'):
        if any(k.startswith(prefix) for k in keys):
            # Lightning modules also hold the loss / metric modules: keep the network only
            sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
            keys = list(sd)
    bad = [k for k in keys if _UNSUPPORTED.search(k)]
    if bad:
        raise ValueError(f'checkpoint uses official options vitdense does not implement (qkv_proj_type '
                         f'"separable_conv" or a conv anchor projection), e.g. {bad[0]!r}; only '
                         'qkv_proj_type="linear" and anchor_proj_type="avgpool" (the released models) '
                         'convert')
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor) or _OFFICIAL_BUFFERS.search(k):
            continue
        for pattern, repl in _OFFICIAL_RENAMES:
            k = pattern.sub(repl, k)
        out[k] = v
    if not any(k.startswith('conv_first.') for k in out):
        raise ValueError('no GRL weights found in the checkpoint (expected keys like "conv_first.weight" '
                         f'or "model.conv_first.weight"); got e.g. {keys[:3]}')
    return out
