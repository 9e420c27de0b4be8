"""STViT-R (Chang et al., CVPR 2023): Swin with semantic token sparsification and recovery.

"Making Vision Transformers Efficient from A Token Sparsification View", the dense form of the
official detection code (changsn/STViT-R-Object-Detection, ``mmdet/models/backbones``). Stages 0, 1
and 3 are plain Swin stages (``SwinStage``). The third stage (stride 16) runs in groups of six
blocks (the released Swin-S/B have three groups, 18 blocks):

0. a Swin block with non-shifted windows on the image tokens;
1. semantic token generation: every ``window`` x ``window`` window is max-pooled to ``sample`` x
   ``sample`` tokens (3x3 of a 7x7 window), which attend to the image tokens of a ``k1`` x ``k1``
   neighbourhood around their window (14);
2. the same refinement again with the semantic tokens as queries (neighbourhood ``k2``, 21);
3. self-attention among the semantic tokens in ``sample`` x ``sample`` windows;
4. global self-attention among all semantic tokens of the image;
5. recovery: the image tokens of block 0's output attend, window by window, to the semantic tokens
   of a ``k3`` x ``k3`` neighbourhood (27) of the semantic grid.

Blocks 1-5 use LayerScale (``layer_scale_1/2``, 1e-5 at init) and separate ``q`` / ``kv``
projections. Inputs of any size: the image is padded to a multiple of 4 (as the official stem does),
each block pads its map to the window size. Padded keys are masked with the official rule,
including its quirk (kept so the released weights give the official features): the mask is
``m[-pad_b:, -pad_r:] = -1000`` on the padded map, which covers only the bottom-right corner when
both axes are padded and the whole map (a uniform shift, no masking) when neither is; the recovery
block applies the image-token pad amounts to the semantic grid. Keys outside the padded map
(the neighbourhood border, ``norm(0)`` tokens) get -1000 too, so without window padding they are
attended like any other key.

Parameter names follow the official release (``layers.2.blocks.j.attn.q``, ``layer_scale_1``,
...); the stem's ``Conv2d_BN`` (``c``, ``bn``) becomes ``ConvBN`` (``conv``, ``bn``).
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import (DropPath, Mlp, PatchMerging, attention, drop_path_rates, maybe_checkpoint, pad_to_multiple,
                      window_partition, window_reverse)
from ..layers.reparam import ConvBN
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, resolve_arch
from .swin import SwinBlock, SwinStage, SwinTransformer, convert_swin_checkpoint

_PAD_FILL = -1000.0  # the official mask value


class STViTStem(nn.Module):
    """Two 3x3 stride-2 ``ConvBN`` + Hardswish (the official ``PatchEmbed``); no norm."""

    def __init__(self, in_channels: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Sequential(ConvBN(in_channels, embed_dim // 2, 3, 2, 1), nn.Hardswish(),
                                  ConvBN(embed_dim // 2, embed_dim, 3, 2, 1), nn.Hardswish())

    def forward(self, x: torch.Tensor):
        H, W = x.shape[-2:]
        x = F.pad(x, (0, (-W) % 4, 0, (-H) % 4))
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), tuple(x.shape[-2:])


class CrossAttention(nn.Module):
    """Queries from ``x``, keys and values from ``y`` (``q`` and ``kv`` projections, as official)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, y: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, N, C = x.shape
        h = self.num_heads
        q = self.q(x).reshape(B, N, h, C // h).transpose(1, 2)
        k, v = self.kv(y).reshape(B, y.shape[1], 2, h, C // h).permute(2, 0, 3, 1, 4).unbind(0)
        x = attention(q, k, v, bias, dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))


def _neighbourhood_mask(h: int, w: int, pad_b: int, pad_r: int, kernel: int, stride: int,
                        device) -> torch.Tensor:
    """Additive key mask ``(num_windows, 1, 1, kernel**2)`` of the official code for a padded
    ``h x w`` key map unfolded with ``kernel`` / ``stride`` (see the module docstring)."""
    left = (kernel - stride) // 2
    right = kernel - stride - left
    m = torch.zeros(1, 1, h, w, device=device)
    m[..., -pad_b:, -pad_r:] = _PAD_FILL  # the official slice: -0 selects the whole axis
    m = F.pad(m, (left, right, left, right), value=_PAD_FILL)
    m = F.unfold(m, kernel, stride=stride)  # (1, k*k, num_windows)
    return m[0].t().reshape(-1, 1, 1, kernel * kernel)


def _unfold_tokens(x: torch.Tensor, norm: nn.Module, kernel: int, stride: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * num_windows, kernel**2, C)`` normalised neighbourhoods. As in the
    official code the map is zero-padded by ``(kernel - stride) / 2`` (floor before, ceil after)
    *before* ``norm``, so border keys are ``norm(0)``, not 0 (they count where the mask is uniform)."""
    left = (kernel - stride) // 2
    right = kernel - stride - left
    B, C = x.shape[0], x.shape[-1]
    x = norm(F.pad(x, (0, 0, left, right, left, right))).permute(0, 3, 1, 2)
    x = F.unfold(x, kernel, stride=stride).view(B, C, kernel * kernel, -1)
    return x.permute(0, 3, 2, 1).reshape(-1, kernel * kernel, C)


class _SemanticBlockBase(nn.Module):
    """norm1 -> cross attention -> LayerScale residual; norm2 -> MLP -> LayerScale residual."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True, drop=0.0, attn_drop=0.0, drop_path=0.0,
                 layer_scale_init_value=1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CrossAttention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.layer_scale_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))


class SemanticAttentionBlock(_SemanticBlockBase):
    """Semantic tokens (pooled from each image window, or given) attend to image-token neighbourhoods.

    Returns the semantic tokens ``(B, sH * sW, C)`` in grid order and ``(sH, sW)``,
    ``sH = ceil(H / window) * sample``."""

    def __init__(self, dim, num_heads, window_size=7, sample_size=3, kernel_size=14, **kw):
        super().__init__(dim, num_heads, **kw)
        self.window_size, self.sample_size, self.kernel_size = window_size, sample_size, kernel_size

    def forward(self, x: torch.Tensor, hw, sem: Optional[torch.Tensor] = None):
        H, W = hw
        B, _, C = x.shape
        ws, s = self.window_size, self.sample_size
        x = pad_to_multiple(x.view(B, H, W, C), ws)
        Hp, Wp = x.shape[1:3]
        sh, sw = Hp // ws * s, Wp // ws * s
        if sem is None:  # generation: max-pool every window to s x s
            win = window_partition(x, ws).transpose(1, 2).reshape(-1, C, ws, ws)
            shortcut = F.adaptive_max_pool2d(win, s).flatten(2).transpose(1, 2)
        else:
            shortcut = window_partition(sem.view(B, sh, sw, C), s)
        kv = _unfold_tokens(x, self.norm1, self.kernel_size, ws)
        mask = _neighbourhood_mask(Hp, Wp, Hp - H, Wp - W, self.kernel_size, ws, x.device)
        mask = mask.repeat(B, 1, 1, 1).to(x.dtype)
        y = shortcut + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(shortcut), kv, mask))
        y = window_reverse(y, s, sh, sw).reshape(B, sh * sw, C)
        return self._ffn(y), (sh, sw)


class SemanticBlock(_SemanticBlockBase):
    """Self-attention among the semantic tokens: in ``window`` x ``window`` windows of the semantic
    grid (``local``) or over all of them."""

    def __init__(self, dim, num_heads, window_size=3, local=False, **kw):
        super().__init__(dim, num_heads, **kw)
        self.window_size, self.local = window_size, local

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        B, L, C = x.shape
        y = self.norm1(x)
        if self.local:
            y = window_partition(y.view(B, hw[0], hw[1], C), self.window_size)
            y = window_reverse(self.attn(y, y), self.window_size, *hw).reshape(B, L, C)
        else:
            y = self.attn(y, y)
        return self._ffn(x + self.drop_path(self.layer_scale_1 * y))


class RestoreBlock(_SemanticBlockBase):
    """Recovery: image tokens (per window) attend to a ``kernel`` x ``kernel`` neighbourhood of the
    semantic grid around their window's semantic tokens."""

    def __init__(self, dim, num_heads, window_size=7, sample_size=3, kernel_size=27, **kw):
        super().__init__(dim, num_heads, **kw)
        self.window_size, self.sample_size, self.kernel_size = window_size, sample_size, kernel_size

    def forward(self, x: torch.Tensor, hw, sem: torch.Tensor, sem_hw) -> torch.Tensor:
        H, W = hw
        B, L, C = x.shape
        ws, s = self.window_size, self.sample_size
        xp = pad_to_multiple(x.view(B, H, W, C), ws)
        Hp, Wp = xp.shape[1:3]
        shortcut = window_partition(xp, ws)
        sem = sem.view(B, sem_hw[0], sem_hw[1], C)
        kv = _unfold_tokens(sem, self.norm1, self.kernel_size, s)
        # official: the image-token pad amounts applied to the semantic grid
        mask = _neighbourhood_mask(sem_hw[0], sem_hw[1], Hp - H, Wp - W, self.kernel_size, s, x.device)
        mask = mask.repeat(B, 1, 1, 1).to(x.dtype)
        y = shortcut + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(shortcut), kv, mask))
        y = window_reverse(y, ws, Hp, Wp)[:, :H, :W].reshape(B, L, C)
        return self._ffn(y)


class SemanticStage(nn.Module):
    """The sparsified stage: ``depth // 6`` groups of (Swin, generate, refine, local, global,
    restore) blocks, then an optional patch merging (same outputs as ``SwinStage``)."""

    def __init__(self, dim, depth, num_heads, window_size, sample_size, kernel_sizes, mlp_ratio, qkv_bias,
                 qk_scale, drop, attn_drop, drop_path, downsample: bool, with_cp: bool):
        super().__init__()
        if depth % 6:
            raise ValueError(f'STViTR: the semantic stage has groups of 6 blocks; got depth {depth}')
        self.with_cp = with_cp
        k1, k2, k3 = kernel_sizes
        kw = dict(mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop=drop, attn_drop=attn_drop)
        blocks = []
        for i in range(depth):
            kind, dp = i % 6, drop_path[i]
            if kind == 0:
                blocks.append(SwinBlock(dim, num_heads, window_size, shift=False, mlp_ratio=mlp_ratio,
                                        qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop, attn_drop=attn_drop,
                                        drop_path=dp))
            elif kind in (1, 2):
                blocks.append(SemanticAttentionBlock(dim, num_heads, window_size, sample_size,
                                                     k1 if kind == 1 else k2, drop_path=dp, **kw))
            elif kind in (3, 4):
                blocks.append(SemanticBlock(dim, num_heads, sample_size, local=kind == 3, drop_path=dp, **kw))
            else:
                blocks.append(RestoreBlock(dim, num_heads, window_size, sample_size, k3, drop_path=dp, **kw))
        self.blocks = nn.ModuleList(blocks)
        self.downsample = PatchMerging(dim, 2 * dim) if downsample else None

    def forward(self, x, hw):
        cp = self.with_cp
        for g in range(0, len(self.blocks), 6):
            b = self.blocks[g:g + 6]
            x = maybe_checkpoint(b[0], x, hw, enabled=cp)
            sem, sem_hw = maybe_checkpoint(b[1], x, hw, enabled=cp)
            sem, _ = maybe_checkpoint(b[2], x, hw, sem, enabled=cp)
            sem = maybe_checkpoint(b[3], sem, sem_hw, enabled=cp)
            sem = maybe_checkpoint(b[4], sem, sem_hw, enabled=cp)
            x = maybe_checkpoint(b[5], x, hw, sem, sem_hw, enabled=cp)
        if self.downsample is None:
            return x, hw, x, hw
        B, _, C = x.shape
        y = self.downsample(x.view(B, hw[0], hw[1], C))
        return x, hw, y.flatten(1, 2), tuple(y.shape[1:3])


@MODELS.register_module()
class STViTR(SwinTransformer):
    """STViT-R backbone (Swin with semantic token generation and recovery in the third stage).

    Args:
        arch: 'small' | 'base' (the released STViT-R-Swin-S/B) or a dict with ``embed_dims``,
            ``depths`` (four stages, the third a multiple of 6), ``num_heads``; optional
            ``mlp_ratio``.
        in_channels: input image channels.
        window_size: Swin window and the image window of the semantic blocks (7).
        sample_size: semantic tokens per window side (3: 9 semantic tokens per 7x7 window).
        kernel_sizes: key neighbourhoods of the generation, refinement and recovery blocks
            (14, 21, 27; the first two in image tokens, the last in semantic tokens).
        mlp_ratio: hidden/embed ratio of the MLPs (overridden by the arch dict's).
        qkv_bias, qk_scale: of the attention (qk_scale only in the Swin blocks, as official).
        drop_rate, attn_drop_rate, drop_path_rate: dropout, attention dropout, stochastic depth
            (linearly increasing over all blocks; 0.2 for S, 0.3 for B in the official configs).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also the first k stages (with their
            merging layer and output norm).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; the official
            classification and detection releases are converted on load.
    """

    converter = 'convert_stvit_checkpoint'
    arch_zoo = {
        'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    }
    arch_zoo.update({'s': arch_zoo['small'], 'b': arch_zoo['base']})

    def __init__(self, arch='small', in_channels=3, window_size=7, sample_size=3, kernel_sizes=(14, 21, 27),
                 mlp_ratio=4.0, qkv_bias=True, qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0,
                 drop_path_rate=0.2, out_indices=(0, 1, 2, 3), frozen_stages=-1, with_cp=False, init_cfg=None):
        BaseBackbone.__init__(self, init_cfg=init_cfg)  # not SwinTransformer.__init__: other stem and stage
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'STViTR')
        self.embed_dims, depths, num_heads = cfg['embed_dims'], tuple(cfg['depths']), tuple(cfg['num_heads'])
        mlp_ratio = cfg.get('mlp_ratio', mlp_ratio)
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(f'STViTR: depths {depths} and num_heads {num_heads} need four stages')
        self.num_stages = 4
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'STViTR')
        self.frozen_stages = frozen_stages
        self.num_features = [self.embed_dims * 2 ** i for i in range(self.num_stages)]

        self.patch_embed = STViTStem(in_channels, self.embed_dims)
        self.absolute_pos_embed = None
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, depths)
        common = (mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate)
        self.layers = nn.ModuleList()
        for i in range(self.num_stages):
            if i == 2:
                stage = SemanticStage(self.num_features[i], depths[i], num_heads[i], window_size, sample_size,
                                      tuple(kernel_sizes), *common, dpr[i], downsample=True, with_cp=with_cp)
            else:
                stage = SwinStage(self.num_features[i], depths[i], num_heads[i], window_size, *common, dpr[i],
                                  nn.LayerNorm, downsample=i < self.num_stages - 1, with_cp=with_cp)
            self.layers.append(stage)
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))
        self._freeze_stages()

    # init_weights (the official one: truncated-normal linears and relative-position tables, unit
    # LayerNorms; convs and BatchNorms keep torch's defaults), _freeze_stages, forward and
    # _adapt_shapes are SwinTransformer's: same stage interface, no absolute position embedding.


def convert_stvit_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an STViT-R checkpoint's weights to this module's names.

    Understood layouts: the official detection release (``backbone.`` prefix removed by the loader,
    output norms ``norm0..3``) and the official classification release (final ``norm`` closing the
    last stage, ``head`` dropped), both with the stem's ``Conv2d_BN`` names ``proj.{0,2}.c``. Our own
    format is returned unchanged (through the Swin converter's renames, which leave it alone).
    """
    sd = {}
    for k, v in state_dict.items():
        if k.startswith('patch_embed.proj.') and '.c.' in k:
            k = k.replace('.c.', '.conv.')
        sd[k] = v
    return convert_swin_checkpoint(sd)
