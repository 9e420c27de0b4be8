"""iFormer, the Inception Transformer (Si et al., NeurIPS 2022, arXiv 2205.12956), after the official
sail-sg/iFormer ``models/inception_transformer.py`` (the only model code released; classification
only). timm's ``iformer_*`` models are a different, later network and are not read here.

Stem: ``3x3/2 conv -> BN -> GELU -> 3x3/2 conv -> BN`` (half the width inside); stages 1..3 open
with ``3x3/2 conv -> BN``. Each stage adds a learned position embedding ``(1, h, w, C)`` sized for
the pre-training resolution (224 px: 56, 28, 14, 7 cells) and runs channels-last blocks

    x = x + drop_path(ls_1 * Mixer(LN(x)))
    x = x + drop_path(ls_2 * MLP(LN(x)))

(layer scale, init 1e-6, only in stages 2 and 3, as in the official code). The Inception mixer
splits the channels by a per-block frequency ramp: the first ``C - a * C / heads`` channels (``a``,
the block's ``attention_heads``) go to the high-frequency mixer, half of them through a 1x1 conv +
3x3 depth-wise conv + GELU, the other half through a 3x3 max-pool + 1x1 conv + GELU (each branch
doubles its channels); the last ``a * C / heads`` channels go to the low-frequency mixer, ``a``-head
self-attention on a 2x2 average-pooled map (stages 0 and 1; full resolution in stages 2 and 3)
upsampled back by nearest neighbour. The concatenation ``z`` is fused as ``proj(z + DW_3x3(z))``.
LayerNorms have eps 1e-6; the MLP ratio is 4.

Dense form (no official dense code is released): the four stage outputs, each through a LayerNorm
(``norm0..3``, eps 1e-6; ``out_norm=False`` returns the raw stage outputs); the classifier's final
``norm`` becomes ``norm3`` on load, its ``head`` is dropped.

Inputs of any size, where we differ from the official code:

- position embeddings: resized bilinearly (``align_corners=False``, the official rule) to the
  stage's map whenever its size differs from the table (the official code tests ``H * W`` against
  the table's area, so a non-square map of the same area would skip the resize and fail);
- the low-frequency mixer's 2x2 average pool on an odd map: a ceil-mode pool whose last row/column
  averages only the pixels it covers (the official floor-mode pool drops them and then fails to
  concatenate the upsampled map); the upsampled map is cut back to the input size. Even maps are
  unchanged;
- the official attention reshapes its tokens to a square; ours keeps the map's ``h x w``.

The 3x3/2/pad-1 convs give ``ceil(H / 2)`` by themselves, so stage ``i`` has ``ceil(H / 2**(i+2))``
rows and nothing is padded or dropped. At a square input of a multiple of 32 everything equals the
official model.

Parameter names are the official ones (``patch_embed.{proj1,norm1,proj2,norm2}``,
``patch_embed{2,3,4}.{proj,norm}``, ``pos_embed{1..4}``, ``blocks{1..4}.{j}.{norm1,attn,norm2,mlp,
layer_scale_1,layer_scale_2}`` with ``attn.high_mixer.{conv1,proj1,proj2}``, ``attn.low_mixer.qkv``,
``attn.conv_fuse``, ``attn.proj``), so the official release loads as it is, head aside.
"""
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import DropPath, Mlp, attention, drop_path_rates, maybe_checkpoint
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch

POOL_SIZES = (2, 2, 1, 1)  # low-frequency mixer pooling per stage (official)
LAYER_SCALE_STAGES = (False, False, True, True)  # the official blocks1/2 have no layer scale


class Stem(nn.Module):
    """Official ``FirstPatchEmbed``: two 3x3/2 convs with BatchNorms, GELU between; NCHW in and out."""

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.proj1 = nn.Conv2d(in_channels, dim // 2, 3, 2, 1)
        self.norm1 = nn.BatchNorm2d(dim // 2)
        self.gelu1 = nn.GELU()
        self.proj2 = nn.Conv2d(dim // 2, dim, 3, 2, 1)
        self.norm2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm2(self.proj2(self.gelu1(self.norm1(self.proj1(x)))))


class Downsample(nn.Module):
    """Official ``PatchEmbed`` of stages 1..3: 3x3/2 conv -> BN, NCHW in and out."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_dim, out_dim, 3, 2, 1)
        self.norm = nn.BatchNorm2d(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class HighMixer(nn.Module):
    """High-frequency mixer on ``(B, C, H, W)``: the first half of the channels through
    1x1 conv -> 3x3 depth-wise conv -> GELU, the second half through 3x3 max-pool -> 1x1 conv -> GELU;
    each branch doubles its channels (``2 * C`` out)."""

    def __init__(self, dim: int):
        super().__init__()
        self.cnn_in = half = dim // 2
        self.conv1 = nn.Conv2d(half, 2 * half, 1, bias=False)
        self.proj1 = nn.Conv2d(2 * half, 2 * half, 3, 1, 1, groups=2 * half, bias=False)
        self.mid_gelu1 = nn.GELU()
        self.Maxpool = nn.MaxPool2d(3, 1, 1)
        self.proj2 = nn.Conv2d(half, 2 * half, 1)
        self.mid_gelu2 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cx, px = x[:, :self.cnn_in], x[:, self.cnn_in:]
        cx = self.mid_gelu1(self.proj1(self.conv1(cx)))
        px = self.mid_gelu2(self.proj2(self.Maxpool(px)))
        return torch.cat((cx, px), dim=1)


class LowMixer(nn.Module):
    """Low-frequency mixer on ``(B, C, H, W)``: multi-head self-attention (no output projection) on
    the ``pool_size`` x ``pool_size`` average-pooled map, nearest-neighbour upsampled back.

    Odd maps: the pool runs in ceil mode (a partial last cell averages the pixels it has) and the
    upsampled map is cut back to ``H x W``; the official floor-mode pool fails there."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 pool_size: int = 2):
        super().__init__()
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.pool_size = pool_size
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        p = self.pool_size
        if p > 1:
            x = F.avg_pool2d(x, p, p, ceil_mode=True, count_include_pad=False)
        h, w = x.shape[-2:]
        qkv = self.qkv(x.flatten(2).transpose(1, 2))  # (B, h*w, 3C)
        q, k, v = qkv.reshape(B, h * w, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)  # (B, heads, N, d)
        x = x.transpose(-1, -2).reshape(B, C, h, w)
        if p > 1:
            x = F.interpolate(x, scale_factor=p, mode='nearest')[..., :H, :W]
        return x


class InceptionMixer(nn.Module):
    """The official ``Mixer``: channel split into high- and low-frequency mixers, depth-wise 3x3
    fusion with a residual, 1x1 projection. Channels-last ``(B, H, W, C)`` in and out."""

    def __init__(self, dim: int, num_heads: int, attention_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, pool_size: int = 2):
        super().__init__()
        head_dim = dim // num_heads
        self.low_dim = attention_heads * head_dim
        self.high_dim = dim - self.low_dim
        self.high_mixer = HighMixer(self.high_dim)
        self.low_mixer = LowMixer(self.low_dim, attention_heads, qkv_bias, attn_drop, pool_size)
        mixed = self.low_dim + 2 * self.high_dim
        self.conv_fuse = nn.Conv2d(mixed, mixed, 3, 1, 1, groups=mixed, bias=False)
        self.proj = nn.Conv2d(mixed, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2)
        x = torch.cat((self.high_mixer(x[:, :self.high_dim]), self.low_mixer(x[:, self.high_dim:])), dim=1)
        x = self.proj(x + self.conv_fuse(x))
        return x.permute(0, 2, 3, 1)


class IFormerBlock(nn.Module):
    """Pre-norm block on channels-last maps; optional layer scale (official ``Block``)."""

    def __init__(self, dim: int, num_heads: int, attention_heads: int, pool_size: int, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0,
                 layer_scale_init_value=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = InceptionMixer(dim, num_heads, attention_heads, qkv_bias, attn_drop, pool_size)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.use_layer_scale = layer_scale_init_value is not None
        if self.use_layer_scale:
            self.layer_scale_1 = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))
            self.layer_scale_2 = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_layer_scale:
            x = x + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(x)))
            return x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def resize_pos_embed_map(pos: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
    """A ``(1, h, w, C)`` position embedding resized bilinearly to ``hw`` (official rule), unchanged
    when it already has that size."""
    if tuple(pos.shape[1:3]) == tuple(hw):
        return pos
    return F.interpolate(pos.permute(0, 3, 1, 2), size=tuple(hw), mode='bilinear',
                         align_corners=False).permute(0, 2, 3, 1)


@MODELS.register_module()
class InceptionTransformer(BaseBackbone):
    """iFormer (Inception Transformer) backbone.

    Args:
        arch: 'small' | 'base' | 'large' (or s/b/l), or a dict with ``depths``, ``embed_dims``,
            ``num_heads`` (per stage) and ``attention_heads`` (per block: the heads, hence the
            channels, of the low-frequency mixer; the rest go to the high-frequency mixer).
        in_channels: input image channels.
        pretrain_img_size: the resolution the position embeddings are sized for (224 for the
            official 224 px models, 384 for the fine-tuned ones): tables of ``size // 4 // 2**i``.
        mlp_ratio: MLP hidden ratio (official 4).
        qkv_bias: bias of the attention's qkv projection (official True).
        drop_rate: dropout in the MLPs.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth, increasing linearly over all blocks.
        layer_scale_init_value: initial layer scale of the stage-2/3 blocks (official 1e-6);
            None: no layer scale.
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a LayerNorm (eps 1e-6) on each returned stage; False returns the raw stage outputs.
        frozen_stages: -1 trains all; 0 freezes the stem (``patch_embed``); k > 0 also stages
            0..k-1: their downsampling conv, position embedding, blocks and output norm. Frozen
            BatchNorms keep their running statistics.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``; the official release (a bare
            state dict with ``head`` and ``norm``) is converted on load; position embeddings of
            another size (the 384 px release) are resized bilinearly.
    """

    converter = 'convert_iformer_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    model_name_prefix = 'iformer'  # vitdense.get_model('iformer_...')
    arch_zoo = {
        'small': dict(depths=(3, 3, 9, 3), embed_dims=(96, 192, 320, 384), num_heads=(3, 6, 10, 12),
                      attention_heads=(1, ) * 3 + (3, ) * 3 + (7, ) * 4 + (9, ) * 5 + (11, ) * 3),
        'base': dict(depths=(4, 6, 14, 6), embed_dims=(96, 192, 384, 512), num_heads=(3, 6, 12, 16),
                     attention_heads=(1, ) * 4 + (3, ) * 6 + (8, ) * 7 + (10, ) * 7 + (15, ) * 6),
        'large': dict(depths=(4, 6, 18, 8), embed_dims=(96, 192, 448, 640), num_heads=(3, 6, 14, 20),
                      attention_heads=(1, ) * 4 + (3, ) * 6 + (10, ) * 9 + (12, ) * 9 + (19, ) * 8),
    }
    arch_zoo.update({'s': arch_zoo['small'], 'b': arch_zoo['base'], 'l': arch_zoo['large']})
    num_stages = 4

    def __init__(self, arch='small', in_channels=3, pretrain_img_size=224, mlp_ratio=4.0, qkv_bias=True,
                 drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0, layer_scale_init_value=1e-6,
                 out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'embed_dims', 'num_heads', 'attention_heads'), name)
        depths, dims = tuple(cfg['depths']), tuple(cfg['embed_dims'])
        heads, att_heads = tuple(cfg['num_heads']), tuple(cfg['attention_heads'])
        if not len(depths) == len(dims) == len(heads) == self.num_stages:
            raise ValueError(f'{name}: depths {depths}, embed_dims {dims} and num_heads {heads} must have '
                             f'{self.num_stages} entries')
        if len(att_heads) != sum(depths):
            raise ValueError(f'{name}: attention_heads needs one entry per block ({sum(depths)}), '
                             f'got {len(att_heads)}')
        if pretrain_img_size < 32:
            raise ValueError(f'{name}: pretrain_img_size {pretrain_img_size} leaves the stride-32 stage '
                             f'without a position table; it must be at least 32')
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(dims)
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.pretrain_img_size = pretrain_img_size

        dpr = drop_path_rates(drop_path_rate, depths)
        start = 0
        grid = pretrain_img_size // 4
        for i in range(self.num_stages):
            blocks_att = att_heads[start:start + depths[i]]
            start += depths[i]
            for a in blocks_att:
                high = dims[i] - a * (dims[i] // heads[i])
                if not 0 < a < heads[i] or high % 2:
                    raise ValueError(f'{name}: stage {i} ({dims[i]} channels, {heads[i]} heads): '
                                     f'{a} attention heads leave {high} high-frequency channels; '
                                     f'they must be a positive even number')
            embed = Stem(in_channels, dims[0]) if i == 0 else Downsample(dims[i - 1], dims[i])
            self.add_module('patch_embed' if i == 0 else f'patch_embed{i + 1}', embed)
            self.register_parameter(f'pos_embed{i + 1}', nn.Parameter(torch.zeros(1, grid, grid, dims[i])))
            grid //= 2
            ls = layer_scale_init_value if LAYER_SCALE_STAGES[i] else None
            self.add_module(f'blocks{i + 1}', nn.Sequential(*[
                IFormerBlock(dims[i], heads[i], a, POOL_SIZES[i], mlp_ratio, qkv_bias, drop_rate, attn_drop_rate,
                             rate, ls) for a, rate in zip(blocks_att, dpr[i])
            ]))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(dims[i], eps=1e-6) if out_norm else nn.Identity())
        self._freeze_stages()

    def _embed(self, i: int) -> nn.Module:
        return self.patch_embed if i == 0 else getattr(self, f'patch_embed{i + 1}')

    def init_weights(self):
        if self.init_cfg is None:  # the official random init (_init_vit_weights)
            for i in range(self.num_stages):
                trunc_normal_(getattr(self, f'pos_embed{i + 1}'), std=0.02)
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    trunc_normal_(m.weight, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed)
        for i in range(self.frozen_stages):
            freeze(self._embed(i))
            getattr(self, f'pos_embed{i + 1}').requires_grad = False
            freeze(getattr(self, f'blocks{i + 1}'))
            freeze(getattr(self, f'norm{i}', None))

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x = self._embed(i)(x if i == 0 else x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # (B, H, W, C)
            x = x + resize_pos_embed_map(getattr(self, f'pos_embed{i + 1}'), x.shape[1:3]).to(x.dtype)
            for block in getattr(self, f'blocks{i + 1}'):
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def _adapt_shapes(self, sd, own):
        """Position embeddings of another resolution (e.g. the 384 px release in a 224 px model) are
        resized bilinearly to ours."""
        sd = dict(sd)
        for i in range(1, self.num_stages + 1):
            k = f'pos_embed{i}'
            if k in sd and k in own and sd[k].dim() == 4 and sd[k].shape != own[k].shape:
                sd[k] = resize_pos_embed_map(sd[k].float(), own[k].shape[1:3]).to(sd[k].dtype)
        return super()._adapt_shapes(sd, own)


def convert_iformer_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an iFormer checkpoint's weights to this module's names.

    The official release (sail-sg/iFormer, a bare state dict) already uses our names: its classifier
    ``head.*`` is dropped and its final ``norm.*`` (on the last stage) becomes ``norm3.*``. Our own
    checkpoints pass unchanged. No other library implements this network (timm's ``iformer_*`` is
    another one), so there is no other layout to read.
    """
    out = {}
    for k, v in state_dict.items():
        if k.startswith('head.'):
            continue
        out['norm3.' + k[len('norm.'):] if k.startswith('norm.') else k] = v
    return out
