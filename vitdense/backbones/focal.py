"""Focal Transformer (Yang et al., NeurIPS 2021, "Focal Self-attention for Local-Global Interactions in
Vision Transformers"), after the official classification code (microsoft/Focal-Transformer), which is
the only model code released: the authors' detection/segmentation code (built, per their README, on
the Swin-Transformer detection/segmentation pipelines) was never published. The dense form here is
that of Swin's: one LayerNorm per returned stage, any input size.

Focal self-attention, per ``w x w`` window of queries (w = 7): keys/values are
  1. the window's own tokens (relative-position bias table, as in Swin);
  2. with ``expand_size`` e > 0, the fine-grained tokens around it, gathered as in the official code
     from the map cyclically rolled by (+-e, +-e) (4 * (w^2 - (w - e)^2) tokens, overlapping, each
     with its own learned bias ``relative_position_bias_table_to_neighbors``; the roll wraps around
     the map borders, as the official code does);
  3. with ``focal_level`` 2, the ``focal_window x focal_window`` neighbourhood of the window in the
     map of pooled windows (one token per window, pooled by a learned ``fc`` over its w^2 tokens),
     zero outside the map and masked there with -100, with a bias table indexed by the offset of
     query token and pooled window.

Size independence: the official blocks derive their window (and whether keys are expanded) from the
fixed training resolution. Here these are fixed at construction from ``pretrain_img_size`` (224
reproduces the released models' parameters: in the 7x7 last stage the window is the map and nothing
is expanded), and everything that depends on the actual map -- padding (zeros after ``norm1``,
bottom/right, to a multiple of the window), the gather indices of the rolled neighbours, the pooled
map and its out-of-map mask -- is computed at run time for the padded size. At 224x224 the result is
that of the official code. Rule for output sizes: stage i has ``ceil(H / 4 / 2^i)`` rows (odd maps
are zero-padded before each 2x2 patch embedding).

Not implemented (no released checkpoint of the plain Focal models uses them): window shift,
convolutional patch embedding ("useconv" models), layer scale, pre-norm, absolute position
embedding, focal levels > 2.
"""
from functools import lru_cache
from typing import Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import (DropPath, Mlp, PatchEmbed, attention, drop_path_rates, gather_relative_bias,
                      maybe_checkpoint, pad_to_multiple, relative_position_index, to_2tuple, window_partition,
                      window_reverse)
from ..layers.weight_init import init_linear_and_layernorm_
from ..layers.shape import tokens_to_map
from ..registry import MODELS
from ._convert import rename_final_norm
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


def _cross_position_index(q_size: int, k_size: int) -> torch.Tensor:
    """``(q_size^2, k_size^2)`` rows of a ``(q_size + k_size - 1)^2`` bias table for the offset of a
    query token in its window and a key position in a ``k_size x k_size`` grid (official indexing)."""
    def grid(n):
        return torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing='ij')).flatten(1)
    rel = (grid(q_size)[:, :, None] - grid(k_size)[:, None, :]).permute(1, 2, 0) + (k_size - 1)
    return rel[..., 0] * (q_size + k_size - 1) + rel[..., 1]


def _neighbour_offsets(ws: int, e: int) -> torch.Tensor:
    """``(dy, dx)`` of the keys of a window relative to its top-left token: the window itself, then
    the tokens the official code takes from the maps rolled by (-e, -e), (-e, +e), (+e, -e), (+e, +e)
    (those not inside the window), each group in row-major order."""
    r, c = (t.flatten() for t in torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij'))
    groups = [(r, c)]
    lo, hi = r < ws - e, c < ws - e
    for sy, sx, inside in ((e, e, lo & hi), (e, -e, lo & (c >= e)), (-e, e, (r >= e) & hi),
                           (-e, -e, (r >= e) & (c >= e))):
        keep = ~inside if e > 0 else torch.zeros_like(inside)
        groups.append((r[keep] + sy, c[keep] + sx))
    return torch.stack([torch.cat([g[0] for g in groups]), torch.cat([g[1] for g in groups])], -1)


@lru_cache(maxsize=64)
def _local_key_index(Hp: int, Wp: int, ws: int, e: int, device: torch.device) -> torch.Tensor:
    """Flat indices ``(nW * N_local,)`` into the ``Hp x Wp`` map of every window's fine keys, with the
    cyclic wrap-around of ``torch.roll``."""
    off = _neighbour_offsets(ws, e)
    oy = torch.arange(0, Hp, ws).view(-1, 1, 1)
    ox = torch.arange(0, Wp, ws).view(1, -1, 1)
    idx = ((oy + off[:, 0]) % Hp) * Wp + (ox + off[:, 1]) % Wp
    return idx.reshape(-1).to(device)


@lru_cache(maxsize=64)
def _pooled_key_mask(nWh: int, nWw: int, fw: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``(nW, fw^2)`` additive mask: -100 where a window's pooled neighbourhood leaves the map."""
    ones = torch.ones(1, 1, nWh, nWw, device=device, dtype=dtype)
    inside = F.unfold(ones, fw, padding=fw // 2)[0].T  # (nW, fw^2)
    return (1 - inside) * -100.0


class FocalWindowAttention(nn.Module):
    """Focal self-attention of the windows of a padded map ``(B, Hp, Wp, C)``; returns the windows
    ``(B * nW, w^2, C)``."""

    def __init__(self, dim, num_heads, window_size, expand_size, focal_window, use_pooled: bool,
                 qkv_bias=True, qk_scale=None, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'FocalTransformer: dim={dim} is not divisible by num_heads={num_heads}')
        if not 0 <= expand_size < window_size:
            raise ValueError(f'FocalTransformer: expand_size={expand_size} must lie in [0, window_size='
                             f'{window_size})')
        if use_pooled and focal_window % 2 == 0:
            raise ValueError(f'FocalTransformer: focal_window must be odd, got {focal_window}')
        ws = self.window_size = window_size
        self.expand_size, self.focal_window, self.use_pooled = expand_size, focal_window, use_pooled
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.attn_drop = attn_drop
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, num_heads))
        self.register_buffer('relative_position_index', relative_position_index(ws), persistent=False)
        if expand_size > 0:
            n_nb = 4 * ws * ws - 4 * (ws - expand_size) ** 2
            self.relative_position_bias_table_to_neighbors = nn.Parameter(
                torch.zeros(1, num_heads, ws * ws, n_nb))
        if use_pooled:
            self.relative_position_bias_table_to_windows = nn.ParameterList(
                [nn.Parameter(torch.zeros(num_heads, (ws + focal_window - 1) ** 2))])
            self.register_buffer('relative_position_index_0', _cross_position_index(ws, focal_window),
                                 persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _static_bias(self) -> torch.Tensor:
        """``(heads, w^2, N_keys)``: window table, neighbour table, pooled-window table."""
        parts = [gather_relative_bias(self.relative_position_bias_table, self.relative_position_index)]
        if self.expand_size > 0:
            parts.append(self.relative_position_bias_table_to_neighbors[0])
        if self.use_pooled:
            idx = self.relative_position_index_0
            table = self.relative_position_bias_table_to_windows[0]
            parts.append(table[:, idx.reshape(-1)].view(-1, *idx.shape))
        return torch.cat(parts, -1)

    def forward(self, x: torch.Tensor, pooled: torch.Tensor = None) -> torch.Tensor:
        B, Hp, Wp, C = x.shape
        ws, nh = self.window_size, self.num_heads
        nWh, nWw = Hp // ws, Wp // ws
        nW, hd = nWh * nWw, C // nh
        qkv = self.qkv(x)
        q = window_partition(qkv[..., :C], ws).view(B, nW, ws * ws, nh, hd).permute(0, 1, 3, 2, 4)
        kv = qkv[..., C:].reshape(B, Hp * Wp, 2 * C)
        kv = kv[:, _local_key_index(Hp, Wp, ws, self.expand_size, x.device)].view(B, nW, -1, 2 * C)
        bias = self._static_bias().unsqueeze(0)
        if self.use_pooled:
            fw = self.focal_window
            # keys/values of the pooled windows (the q part of the official qkv is unused)
            kv_p = F.linear(pooled, self.qkv.weight[C:], None if self.qkv.bias is None else self.qkv.bias[C:])
            kv_p = F.unfold(kv_p.permute(0, 3, 1, 2), fw, padding=fw // 2)  # zeros outside the map
            kv = torch.cat([kv, kv_p.view(B, 2 * C, fw * fw, nW).permute(0, 3, 2, 1)], 2)
            mask = _pooled_key_mask(nWh, nWw, fw, x.device, bias.dtype)
            bias = torch.cat([bias.expand(nW, -1, -1, -1)[..., :-fw * fw],
                              bias[..., -fw * fw:] + mask[:, None, None, :]], -1)
        k, v = kv.view(B, nW, -1, 2, nh, hd).permute(3, 0, 1, 4, 2, 5).unbind(0)
        y = attention(q, k, v, bias, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale)
        y = y.permute(0, 1, 3, 2, 4).reshape(B * nW, ws * ws, C)
        return self.proj_drop(self.proj(y))


class FocalBlock(nn.Module):
    """norm1 -> focal window attention (on the zero-padded map) -> residual; norm2 -> MLP -> residual."""

    def __init__(self, dim, num_heads, window_size, expand_size, focal_level, focal_window, pool_method,
                 mlp_ratio=4.0, qkv_bias=True, qk_scale=None, drop=0.0, attn_drop=0.0, drop_path=0.0,
                 norm_layer=nn.LayerNorm):
        super().__init__()
        if focal_level not in (1, 2):
            raise ValueError(f'FocalTransformer: focal_level {focal_level} is not supported (1 or 2, as in '
                             'all released models)')
        if pool_method not in ('none', 'fc', 'conv', 'mean', 'max'):
            raise ValueError(f"FocalTransformer: focal_pool must be 'fc', 'conv', 'mean', 'max' or 'none', "
                             f'got {pool_method!r}')
        self.window_size = window_size
        self.pool_method = pool_method if focal_level > 1 else 'none'
        self.pool_layers = nn.ModuleList()
        if self.pool_method == 'fc':
            self.pool_layers.append(nn.Linear(window_size * window_size, 1))
        elif self.pool_method == 'conv':
            self.pool_layers.append(nn.Conv2d(dim, dim, window_size, window_size, groups=dim))
        self.norm1 = norm_layer(dim)
        self.attn = FocalWindowAttention(dim, num_heads, window_size, expand_size, focal_window,
                                         self.pool_method != 'none', qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def pool_windows(self, x: torch.Tensor) -> torch.Tensor:
        """One token per window of the padded map ``(B, Hp, Wp, C)`` -> ``(B, nWh, nWw, C)``."""
        B, Hp, Wp, C = x.shape
        ws = self.window_size
        if self.pool_method == 'fc':
            win = x.view(B, Hp // ws, ws, Wp // ws, ws, C).permute(0, 1, 3, 5, 2, 4)
            return self.pool_layers[0](win.reshape(B, Hp // ws, Wp // ws, C, ws * ws)).squeeze(-1)
        y = x.permute(0, 3, 1, 2)
        if self.pool_method == 'conv':
            y = self.pool_layers[0](y)
        else:
            y = (F.avg_pool2d if self.pool_method == 'mean' else F.max_pool2d)(y, ws)
        return y.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        H, W = hw
        B, L, C = x.shape
        y = pad_to_multiple(self.norm1(x).view(B, H, W, C), self.window_size)
        Hp, Wp = y.shape[1:3]
        pooled = self.pool_windows(y) if self.pool_method != 'none' else None
        y = window_reverse(self.attn(y, pooled), self.window_size, Hp, Wp)[:, :H, :W].reshape(B, L, C)
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class FocalStage(nn.Module):
    def __init__(self, dim, depth, num_heads, window_size, expand_sizes: Sequence[int], focal_level,
                 focal_window, pool_method, mlp_ratio, qkv_bias, qk_scale, drop, attn_drop,
                 drop_path: Sequence[float], downsample: bool, with_cp: bool):
        super().__init__()
        self.with_cp = with_cp
        self.blocks = nn.ModuleList([
            FocalBlock(dim, num_heads, window_size, expand_sizes[i], focal_level, focal_window, pool_method,
                       mlp_ratio, qkv_bias, qk_scale, drop, attn_drop, drop_path[i]) for i in range(depth)
        ])
        self.downsample = PatchEmbed(dim, 2 * dim, 2, norm_layer=nn.LayerNorm) if downsample else None

    def forward(self, x, hw):
        for blk in self.blocks:
            x = maybe_checkpoint(blk, x, hw, enabled=self.with_cp)
        if self.downsample is None:
            return x, hw, x, hw
        B, _, C = x.shape
        y, y_hw = self.downsample(tokens_to_map(x, hw))
        return x, hw, y, y_hw


@MODELS.register_module()
class FocalTransformer(BaseBackbone):
    """Focal Transformer backbone.

    Args:
        arch: 'tiny' | 'small' | 'base' (or 't'/'s'/'b') or a dict with ``embed_dims``, ``depths``,
            ``num_heads``.
        pretrain_img_size: the classification training size, which fixes each stage's window and
            whether its keys are expanded as in the official code (a stage whose map is not larger
            than the window there uses the map size as window and no expansion). Not an input-size limit.
        in_channels: input image channels.
        patch_size: stride of the patch embedding.
        window_size: query window (7 in all released models).
        focal_levels: per stage, 1 (window + expanded neighbours) or 2 (plus pooled windows).
        focal_windows: per stage, the side of the neighbourhood of pooled windows (7, 5, 3, 1).
        focal_pool: how a window is pooled: 'fc' (learned weights over its tokens, the released models),
            'conv', 'mean', 'max' or 'none'.
        focal_stages: stages using pooled windows (others act as 'none').
        expand_sizes: per stage, the margin e of fine-grained neighbour tokens.
        expand_layer: which blocks expand: 'all', 'even' (odd-indexed blocks expand) or 'odd', as in the
            official code.
        mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate, drop_path_rate: as in Swin.
        patch_norm: LayerNorm after the stem.
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a LayerNorm on each returned stage (Swin's dense pipeline, which the official
            README says Focal's detection/segmentation used); False returns raw stage outputs.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also the first k stages.
        with_cp: activation checkpointing in every block.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)``: the official ImageNet release
            (``focal-tiny-is224-ws7.pth``, ...), converted on load.
    """

    converter = 'convert_focal_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    model_name_prefix = 'focal'  # vitdense.get_model('focal_...')
    arch_zoo = {
        'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
        'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base']})

    def __init__(self, arch='tiny', pretrain_img_size=224, in_channels=3, patch_size=4, window_size=7,
                 focal_levels=(2, 2, 2, 2), focal_windows=(7, 5, 3, 1), focal_pool='fc',
                 focal_stages=(0, 1, 2, 3), expand_sizes=(3, 3, 3, 3), expand_layer='all', mlp_ratio=4.0,
                 qkv_bias=True, qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.2,
                 patch_norm=True, out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1, with_cp=False,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'FocalTransformer')
        self.embed_dims, depths, num_heads = cfg['embed_dims'], tuple(cfg['depths']), tuple(cfg['num_heads'])
        self.num_stages = len(depths)
        for name, val in (('num_heads', num_heads), ('focal_levels', focal_levels),
                          ('focal_windows', focal_windows), ('expand_sizes', expand_sizes)):
            if len(val) != self.num_stages:
                raise ValueError(f'FocalTransformer: {name}={tuple(val)} must have one entry per stage '
                                 f'({self.num_stages})')
        factor = {'all': -1, 'even': 0, 'odd': 1}.get(expand_layer)
        if factor is None:
            raise ValueError(f"FocalTransformer: expand_layer must be 'all', 'even' or 'odd', "
                             f'got {expand_layer!r}')
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'FocalTransformer')
        self.frozen_stages = frozen_stages
        self.num_features = [self.embed_dims * 2 ** i for i in range(self.num_stages)]

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, patch_size,
                                      norm_layer=nn.LayerNorm if patch_norm else None)
        self.pos_drop = nn.Dropout(drop_rate)
        res = [n // patch_size for n in to_2tuple(pretrain_img_size)]
        dpr = drop_path_rates(drop_path_rate, depths)
        self.layers = nn.ModuleList()
        for i in range(self.num_stages):
            stage_res = min(r // 2 ** i for r in res)
            ws, expand = window_size, expand_sizes[i]
            if stage_res <= window_size:  # official rule at the training resolution
                ws, expand = stage_res, 0
            self.layers.append(FocalStage(
                self.num_features[i], depths[i], num_heads[i], ws,
                [0 if j % 2 == factor else expand for j in range(depths[i])], focal_levels[i],
                focal_windows[i], focal_pool if i in focal_stages else 'none', mlp_ratio, qkv_bias, qk_scale,
                drop_rate, attn_drop_rate, dpr[i], downsample=i < self.num_stages - 1, with_cp=with_cp))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, FocalWindowAttention):
                    nn.init.zeros_(m.relative_position_bias_table)
                    if m.expand_size > 0:
                        trunc_normal_(m.relative_position_bias_table_to_neighbors, std=0.02)
                    if m.use_pooled:
                        trunc_normal_(m.relative_position_bias_table_to_windows[0], std=0.02)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed)
            self.pos_drop.eval()
        for i in range(1, self.frozen_stages + 1):
            freeze(self.layers[i - 1])
            freeze(getattr(self, f'norm{i - 1}', None))

    def forward(self, x: torch.Tensor):
        x, hw = self.patch_embed(x)
        x = self.pos_drop(x)
        outs = []
        for i, stage in enumerate(self.layers):
            out, out_hw, x, hw = stage(x, hw)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                outs.append(out.view(-1, *out_hw, self.num_features[i]).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)


_DERIVED = ('relative_position_index', 'valid_ind_rolled', 'valid_ind_unfold', 'attn_mask')


def convert_focal_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official Focal Transformer checkpoint to this module's names.

    The ImageNet release (``focal-tiny-is224-ws7.pth``, ...) uses the same parameter names; its
    derived buffers (relative-position and gather indices, masks) and the classifier ``head`` are
    dropped, and the final ``norm`` becomes the last stage's output norm. Checkpoints of a
    detector/segmentor built on this backbone load through the ``backbone.`` prefix.
    """
    out = {k: v for k, v in state_dict.items()
           if not (k.startswith('head.') or k.rsplit('.', 1)[-1].startswith(_DERIVED))}
    return rename_final_norm(out, 'layers')
