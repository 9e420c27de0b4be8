"""GC ViT, Global Context Vision Transformer (Hatamizadeh et al., ICML 2023), the dense-prediction
form of the official detection backbone (NVlabs/GCVit ``detection/models/gc_vit.py``).

Each stage alternates local window self-attention and *global* window attention, whose queries
are not computed from the window but generated once per stage from the whole map: a few
"FeatExtract" blocks (depth-wise conv, GELU, squeeze-excitation, 1x1 conv, residual, 3x3/2 max
pool) shrink the map, which is resized (bicubic) to the window size and split into heads; every
window of an image then attends with the same global queries to its own keys and values. Both
attentions add a relative-position bias. Convolutional downsampling ("ReduceSize": LayerNorm,
MBConv-SE residual, 3x3/2 conv, LayerNorm) follows each stage but the last; the stem is a 3x3/2
conv followed by a same-width ReduceSize. One LayerNorm per returned stage (``norm0..norm3``).

Dense mode, as the official detection code: windows of 24 in every stage; ImageNet bias tables
(windows 7-7-14-7) are resized bicubically on load; maps are zero-padded (after ``norm1``) to a
multiple of the window and cropped back; the global query map is interpolated to the window
whatever the input size. All convs pad by 1 with stride 2, so stage ``i`` has
``ceil(H / 2**(i+2)) x ceil(W / 2**(i+2))`` cells for any input. With ``window_size=(7, 7, 14, 7)``
and 224 px inputs the network is the official ImageNet classifier (and timm's ``gcvit_*``).

Parameter names follow the official release (``levels.{i}.blocks.{j}.attn.qkv``,
``levels.{i}.q_global_gen.to_q_global.{k}.conv.{0,2,3}``, ``patch_embed.conv_down``, ...);
``convert_gcvit_checkpoint`` also reads timm's layout.
"""
import re
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import (Attention, DropPath, Mlp, attention, drop_path_rates, gather_relative_bias,
                      maybe_checkpoint, pad_to_multiple, relative_position_index,
                      relative_position_table_shape, resize_relative_position_table, window_partition,
                      window_reverse)
from ..layers.weight_init import init_linear_and_layernorm_
from ..layers.window_attention import WindowAttention
from ..registry import MODELS
from ._convert import rename_final_norm
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class SE(nn.Module):
    """Squeeze-excitation with bias-free linears ``fc.0`` (C -> C/4) and ``fc.2`` (C/4 -> C)."""

    def __init__(self, dim: int, expansion: float = 0.25):
        super().__init__()
        hidden = int(dim * expansion)
        self.fc = nn.Sequential(nn.Linear(dim, hidden, bias=False), nn.GELU(),
                                nn.Linear(hidden, dim, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean((2, 3)))[:, :, None, None]


def mbconv_se(dim: int) -> nn.Sequential:
    """The residual branch of FeatExtract / ReduceSize: ``0`` 3x3 depth-wise conv, ``1`` GELU,
    ``2`` SE, ``3`` 1x1 conv; no biases."""
    return nn.Sequential(nn.Conv2d(dim, dim, 3, 1, 1, groups=dim, bias=False), nn.GELU(), SE(dim),
                         nn.Conv2d(dim, dim, 1, bias=False))


class FeatExtract(nn.Module):
    """``x + conv(x)``, then a 3x3/2 max pool unless ``keep_dim`` (channels-first)."""

    def __init__(self, dim: int, keep_dim: bool = False):
        super().__init__()
        self.conv = mbconv_se(dim)
        self.keep_dim = keep_dim
        self.pool = None if keep_dim else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.conv(x)
        return x if self.pool is None else self.pool(x)


class ReduceSize(nn.Module):
    """Channels-last ``(B, H, W, C)`` -> norm1 -> ``x + conv(x)`` -> 3x3/2 conv -> norm2."""

    def __init__(self, dim: int, out_dim: Optional[int] = None, norm_layer=nn.LayerNorm):
        super().__init__()
        out_dim = out_dim or 2 * dim
        self.conv = mbconv_se(dim)
        self.reduction = nn.Conv2d(dim, out_dim, 3, 2, 1, bias=False)
        self.norm2 = norm_layer(out_dim)
        self.norm1 = norm_layer(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x).permute(0, 3, 1, 2)
        x = self.reduction(x + self.conv(x))
        return self.norm2(x.permute(0, 2, 3, 1))


class PatchEmbed(nn.Module):
    """3x3/2 conv ``proj`` then a width-keeping ReduceSize ``conv_down``: stride 4, channels-last."""

    def __init__(self, in_channels: int = 3, dim: int = 64):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 3, 2, 1)
        self.conv_down = ReduceSize(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_down(self.proj(x).permute(0, 2, 3, 1))


class GlobalQueryGen(nn.Module):
    """Global queries of one stage: FeatExtract blocks on the whole map, bicubic resize to the
    window (when the sizes differ), split into heads: ``(B, heads, window**2, head_dim)``."""

    def __init__(self, dim: int, num_heads: int, window_size: int, keep_dims: Sequence[bool]):
        super().__init__()
        self.to_q_global = nn.Sequential(*[FeatExtract(dim, keep) for keep in keep_dims])
        self.num_heads = num_heads
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.to_q_global(x)
        B, C, H, W = x.shape
        ws = self.window_size
        if (H, W) != (ws, ws):
            x = F.interpolate(x, size=(ws, ws), mode='bicubic', align_corners=False)
        return x.permute(0, 2, 3, 1).reshape(B, ws * ws, self.num_heads, C // self.num_heads).transpose(1, 2)


class GlobalWindowAttention(Attention):
    """Window attention with the stage's global queries; ``qkv`` projects keys and values only."""

    def __init__(self, dim, num_heads, window_size, qkv_bias=True, qk_scale=None, attn_drop=0.0,
                 proj_drop=0.0):
        super().__init__(dim, num_heads, qkv_bias, qk_scale, attn_drop, proj_drop)
        self.qkv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(relative_position_table_shape(window_size, num_heads)))
        self.register_buffer('relative_position_index', relative_position_index(window_size),
                             persistent=False)

    def forward(self, x: torch.Tensor, q_global: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B * num_windows, N, C)`` image-major; ``q_global``: ``(B, heads, N, head_dim)``."""
        Bw, N, C = x.shape
        B = q_global.shape[0]
        kv = self.qkv(x).reshape(B, Bw // B, N, 2, self.num_heads, C // self.num_heads)
        kv = kv.permute(3, 0, 1, 4, 2, 5)
        k, v = kv.unbind(0)  # (B, windows, heads, N, head_dim)
        q = q_global.unsqueeze(1).expand_as(k)
        bias = gather_relative_bias(self.relative_position_bias_table, self.relative_position_index)
        x = attention(q, k, v, bias, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale)
        x = x.reshape(Bw, self.num_heads, N, -1).transpose(1, 2).reshape(Bw, N, C)
        return self.proj_drop(self.proj(x))


class GCViTBlock(nn.Module):
    """norm1 -> (global or local) window attention -> gamma1 -> residual; norm2 -> MLP -> gamma2 ->
    residual. Channels-last ``(B, H, W, C)``; the normalised map is zero-padded to the window."""

    def __init__(self, dim, num_heads, window_size, use_global, mlp_ratio=4.0, qkv_bias=True, qk_scale=None,
                 drop=0.0, attn_drop=0.0, drop_path=0.0, layer_scale=None, norm_layer=nn.LayerNorm):
        super().__init__()
        self.window_size = window_size
        self.use_global = use_global
        self.norm1 = norm_layer(dim)
        attn_cls = GlobalWindowAttention if use_global else WindowAttention
        self.attn = attn_cls(dim, num_heads, window_size, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.gamma1 = self.gamma2 = None
        if layer_scale is not None:
            self.gamma1 = nn.Parameter(torch.full((dim, ), float(layer_scale)))
            self.gamma2 = nn.Parameter(torch.full((dim, ), float(layer_scale)))

    def forward(self, x: torch.Tensor, q_global: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        ws = self.window_size
        y = pad_to_multiple(self.norm1(x), ws)
        Hp, Wp = y.shape[1:3]
        windows = window_partition(y, ws)
        windows = self.attn(windows, q_global) if self.use_global else self.attn(windows)
        y = window_reverse(windows, ws, Hp, Wp)[:, :H, :W]
        if self.gamma1 is not None:
            y = y * self.gamma1
        x = x + self.drop_path(y)
        y = self.mlp(self.norm2(x))
        if self.gamma2 is not None:
            y = y * self.gamma2
        return x + self.drop_path(y)


class GCViTLevel(nn.Module):
    """A stage: global query generation, ``depth`` blocks (even: local, odd: global attention),
    then an optional ReduceSize. Returns (stage output, input of the next stage)."""

    def __init__(self, dim, depth, num_heads, window_size, query_keep_dims, mlp_ratio, qkv_bias, qk_scale,
                 drop, attn_drop, drop_path: Sequence[float], layer_scale, downsample: bool, with_cp: bool):
        super().__init__()
        self.with_cp = with_cp
        self.blocks = nn.ModuleList([
            GCViTBlock(dim, num_heads, window_size, use_global=bool(i % 2), mlp_ratio=mlp_ratio,
                       qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop, attn_drop=attn_drop,
                       drop_path=drop_path[i], layer_scale=layer_scale) for i in range(depth)
        ])
        self.downsample = ReduceSize(dim) if downsample else None
        self.q_global_gen = GlobalQueryGen(dim, num_heads, window_size, query_keep_dims)

    def forward(self, x: torch.Tensor):
        q_global = self.q_global_gen(x.permute(0, 3, 1, 2))
        for blk in self.blocks:
            x = maybe_checkpoint(blk, x, q_global, enabled=self.with_cp)
        return x, (x if self.downsample is None else self.downsample(x))


def query_keep_dims(stage: int, window_size: int, pretrain_img_size: int) -> tuple:
    """FeatExtract blocks of a stage's query generator (True: no pooling), the official rule: the
    224 px map of stage i (56, 28, 14, 7 cells) is pooled 3, 2, 1, 0 times, except that stage 2 is
    not pooled when its window equals its map (the 7-7-14-7 ImageNet windows)."""
    if stage == 0:
        return (False, ) * 3
    if stage == 1:
        return (False, ) * 2
    if stage == 2:
        return (window_size == pretrain_img_size // 16, )
    return (True, )


@MODELS.register_module()
class GCViT(BaseBackbone):
    """GC ViT backbone.

    Args:
        arch: 'xxtiny' | 'xtiny' | 'tiny' | 'tiny2' | 'small' | 'small2' | 'base' | 'large' (or
            xxt/xt/t/t2/s/s2/b/l), or a dict with ``embed_dims``, ``depths``, ``num_heads`` (four
            stages) and optionally ``mlp_ratio`` (3) and ``layer_scale`` (None).
        pretrain_img_size: the official ``resolution`` (224): decides whether stage 2's query
            generator pools (see :func:`query_keep_dims`).
        in_channels: input image channels.
        window_size: attention window, an int or one per stage: 24 in the official detection code
            (default), (7, 7, 14, 7) for the 224 px ImageNet models.
        qkv_bias, qk_scale: of the attentions.
        drop_rate, attn_drop_rate, drop_path_rate: dropout, attention dropout, stochastic depth
            (linearly increasing over all blocks; official detection T: 0.2).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a LayerNorm on each returned stage (official dense code); False returns the raw
            stage outputs.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also the first k stages (with their
            ReduceSize and output norm).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official and timm
            checkpoints are converted on load and their bias tables resized to the window.
    """

    converter = 'convert_gcvit_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'xxtiny': dict(embed_dims=64, depths=(2, 2, 6, 2), num_heads=(2, 4, 8, 16), mlp_ratio=3),
        'xtiny': dict(embed_dims=64, depths=(3, 4, 6, 5), num_heads=(2, 4, 8, 16), mlp_ratio=3),
        'tiny': dict(embed_dims=64, depths=(3, 4, 19, 5), num_heads=(2, 4, 8, 16), mlp_ratio=3),
        'tiny2': dict(embed_dims=64, depths=(3, 4, 29, 5), num_heads=(2, 4, 8, 16), mlp_ratio=3),
        'small': dict(embed_dims=96, depths=(3, 4, 19, 5), num_heads=(3, 6, 12, 24), mlp_ratio=2,
                      layer_scale=1e-5),
        'small2': dict(embed_dims=96, depths=(3, 4, 23, 5), num_heads=(3, 6, 12, 24), mlp_ratio=3,
                       layer_scale=1e-5),
        'base': dict(embed_dims=128, depths=(3, 4, 19, 5), num_heads=(4, 8, 16, 32), mlp_ratio=2,
                     layer_scale=1e-5),
        'large': dict(embed_dims=192, depths=(3, 4, 19, 5), num_heads=(6, 12, 24, 48), mlp_ratio=2,
                      layer_scale=1e-5),
    }
    arch_zoo.update({'xxt': arch_zoo['xxtiny'], 'xt': arch_zoo['xtiny'], 't': arch_zoo['tiny'],
                     't2': arch_zoo['tiny2'], 's': arch_zoo['small'], 's2': arch_zoo['small2'],
                     'b': arch_zoo['base'], 'l': arch_zoo['large']})

    def __init__(self, arch='tiny', pretrain_img_size=224, in_channels=3,
                 window_size: Union[int, Sequence[int]] = 24, qkv_bias=True, qk_scale=None, drop_rate=0.0,
                 attn_drop_rate=0.0, drop_path_rate=0.2, out_indices=(0, 1, 2, 3), out_norm=True,
                 frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'GCViT')
        depths, num_heads = tuple(cfg['depths']), tuple(cfg['num_heads'])
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(f'GCViT has four stages: depths {depths} and num_heads {num_heads} '
                             'need 4 entries')
        windows = (window_size, ) * 4 if isinstance(window_size, int) else tuple(window_size)
        if len(windows) != 4:
            raise ValueError(f'GCViT: window_size must be an int or 4 ints (one per stage), '
                             f'got {window_size}')
        self.num_stages = 4
        self.embed_dims = cfg['embed_dims']
        self.window_size = windows
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'GCViT')
        self.frozen_stages = frozen_stages
        self.num_features = [self.embed_dims * 2 ** i for i in range(self.num_stages)]

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.levels = nn.ModuleList([
            GCViTLevel(self.num_features[i], depths[i], num_heads[i], windows[i],
                       query_keep_dims(i, windows[i], pretrain_img_size), cfg.get('mlp_ratio', 3.0), qkv_bias,
                       qk_scale, drop_rate, attn_drop_rate, dpr[i], cfg.get('layer_scale'),
                       downsample=i < self.num_stages - 1, with_cp=with_cp) for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init (training from scratch, tests)
            init_linear_and_layernorm_(self)
            for name, p in self.named_parameters():
                if name.endswith('relative_position_bias_table'):
                    trunc_normal_(p, std=0.02)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed)
            self.pos_drop.eval()
        for i in range(self.frozen_stages):
            freeze(self.levels[i])
            freeze(getattr(self, f'norm{i}', None))

    def forward(self, x: torch.Tensor):
        x = self.pos_drop(self.patch_embed(x))
        outs = []
        for i, level in enumerate(self.levels):
            out, x = level(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(out).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def _adapt_shapes(self, sd, own):
        """ImageNet tables (windows 7/14) are resized bicubically to this model's windows, as the
        official detection backbone does after loading."""
        for k, v in list(sd.items()):
            if k.endswith('relative_position_bias_table') and k in own and own[k].shape != v.shape:
                sd[k] = resize_relative_position_table(v, own[k].shape[0])
        return super()._adapt_shapes(sd, own)


# ----------------------------------------------------------------------------- checkpoint conversion

_TIMM_MBCONV = {'conv_dw.': 'conv.0.', 'se.fc1.': 'conv.2.fc.0.', 'se.fc2.': 'conv.2.fc.2.',
                'conv_pw.': 'conv.3.'}


def _timm_mbconv(rest: str) -> str:
    for a, b in _TIMM_MBCONV.items():
        if rest.startswith(a):
            return b + rest[len(a):]
    return rest


def _from_timm(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    last = max(int(k.split('.')[1]) for k in sd if k.startswith('stages.'))
    out = {}
    for k, v in sd.items():
        m = re.match(r'stages\.(\d+)\.(.*)', k)
        if k.startswith('stem.conv1.'):
            k = 'patch_embed.proj.' + k[len('stem.conv1.'):]
        elif k.startswith('stem.down.'):
            k = 'patch_embed.conv_down.' + _timm_mbconv(k[len('stem.down.'):].replace('conv_block.', ''))
        elif m:
            i, rest = int(m.group(1)), m.group(2)
            if rest.startswith('downsample.'):
                tail = rest[len('downsample.'):].replace('conv_block.', '')
                k = f'levels.{i - 1}.downsample.' + _timm_mbconv(tail)
            elif rest.startswith('global_block.blocks.conv'):
                n, tail = re.match(r'global_block\.blocks\.conv(\d+)\.(.*)', rest).groups()
                k = f'levels.{i}.q_global_gen.to_q_global.{int(n) - 1}.' + _timm_mbconv(tail)
            elif rest.startswith('blocks.'):
                rest = rest.replace('.attn.rel_pos.', '.attn.').replace('.ls1.gamma', '.gamma1')
                k = f'levels.{i}.' + rest.replace('.ls2.gamma', '.gamma2')
            elif rest.startswith('norm.') and i == last:
                k = 'norm.' + rest[len('norm.'):]
        if k.endswith(('fc.0.weight', 'fc.2.weight')) and v.dim() == 4:  # timm's SE uses 1x1 convs
            v = v.flatten(1)
        out[k] = v
    return out


def convert_gcvit_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a GC ViT checkpoint's weights to this module's names.

    Understood layouts: the official ImageNet release (``patch_embed``, ``levels``, final ``norm``,
    ``head``; timm-trainer files wrapping them in ``state_dict``), the official detection
    checkpoints (``backbone.`` prefix, ``norm0..3``, window-24 tables) and timm's ``gcvit_*``
    (``stem``, ``stages.i.downsample`` opening stage i, ``global_block``, ``rel_pos``, ``ls1/2``,
    1x1-conv SE). Index buffers and the classifier head are dropped; the final ``norm`` becomes the
    last stage's output norm. Tables of another window size are resized when loaded.
    """
    sd = {k: v for k, v in state_dict.items() if not k.endswith('relative_position_index')}
    if any(k.startswith('stem.') for k in sd):
        sd = _from_timm(sd)
    sd = {k: v for k, v in sd.items() if not k.startswith('head.')}
    return rename_final_norm(sd, 'levels')
