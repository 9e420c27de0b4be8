"""Swin Transformer (Liu et al., ICCV 2021), the dense-prediction form of the official detection code.

Shifted-window self-attention with a relative-position bias, 2x2 patch merging between stages,
one LayerNorm per output stage. Inputs of any size: the image is padded to the patch size, each
block pads its map to the window size (zeros after ``norm1``, as the official code does) and odd
maps are padded before merging.

Parameter names follow the official release (``layers.{i}.blocks.{j}.attn.qkv``, ...), so the
official weights load with a rename of three keys at most; ``convert_swin_checkpoint`` also reads
timm-, mmdet-, mmseg- and mmpretrain-format checkpoints.
"""
from typing import Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers.weight_init import init_linear_and_layernorm_
from ..layers import PatchEmbed, PatchMerging, drop_path_rates, maybe_checkpoint, resize_relative_position_table
from ..layers.swin_block import SwinBlock
from ..layers.window_attention import WindowAttention
from ..layers.shape import map_to_tokens
from ..registry import MODELS
from ._convert import rename_final_norm
from .base import (BaseBackbone, accepts_peer_args, check_out_indices, freeze, require_peer_values,
                   resolve_arch)


class SwinStage(nn.Module):
    """``depth`` blocks alternating plain and shifted windows, then an optional patch merging."""

    def __init__(self, dim, depth, num_heads, window_size, mlp_ratio, qkv_bias, qk_scale, drop,
                 attn_drop, drop_path: Sequence[float], norm_layer, downsample: bool, with_cp: bool,
                 shift_small_maps: bool = True):
        super().__init__()
        self.with_cp = with_cp
        self.blocks = nn.ModuleList([
            SwinBlock(dim, num_heads, window_size, shift=bool(i % 2), mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                      qk_scale=qk_scale, drop=drop, attn_drop=attn_drop, drop_path=drop_path[i],
                      norm_layer=norm_layer, shift_small_maps=shift_small_maps) for i in range(depth)
        ])
        self.downsample = PatchMerging(dim, 2 * dim, norm_layer) if downsample else None

    def forward(self, x, hw):
        for blk in self.blocks:
            x = maybe_checkpoint(blk, x, hw, enabled=self.with_cp)
        if self.downsample is None:
            return x, hw, x, hw
        B, _, C = x.shape
        y = self.downsample(x.view(B, hw[0], hw[1], C))
        return x, hw, y.flatten(1, 2), tuple(y.shape[1:3])


def mmdet_swin_args(a: dict) -> dict:
    """mmdet's / mmseg's ``SwinTransformer`` arguments in ours: ``embed_dims`` / ``depths`` /
    ``num_heads`` become an ``arch`` dict, ``pretrained`` an ``init_cfg``. ``convert_weights`` needs
    no translation: our converter recognises the official, mmdet and timm layouts by their keys."""
    out = {}
    if {'embed_dims', 'depths', 'num_heads'} & set(a):
        tiny = SwinTransformer.arch_zoo['tiny']
        out['arch'] = dict(embed_dims=a.pop('embed_dims', tiny['embed_dims']),
                           depths=tuple(a.pop('depths', tiny['depths'])),
                           num_heads=tuple(a.pop('num_heads', tiny['num_heads'])))
    if 'strides' in a:
        strides = tuple(a.pop('strides'))
        if strides[1:] != (2, 2, 2):
            raise ValueError(f'SwinTransformer: strides={strides}: only (patch_size, 2, 2, 2) exists here')
        out['patch_size'] = strides[0]
    require_peer_values(a, 'SwinTransformer', act_cfg={'type': 'GELU'}, norm_cfg={'type': 'LN'})
    a.pop('convert_weights', None)
    pretrained = a.pop('pretrained', None)
    if pretrained is not None:
        out['init_cfg'] = dict(type='Pretrained', checkpoint=pretrained)
    return out


mmdet_swin_args.accepts = ('embed_dims', 'depths', 'num_heads', 'strides', 'act_cfg', 'norm_cfg',
                           'convert_weights', 'pretrained')


@MODELS.register_module()
class SwinTransformer(BaseBackbone):
    """Swin Transformer backbone.

    Args:
        arch: 'tiny' | 'small' | 'base' | 'large' or a dict with ``embed_dims``, ``depths``, ``num_heads``.
        pretrain_img_size: image size of the pre-training, for the absolute position embedding.
        in_channels: input image channels.
        patch_size: stride of the patch embedding.
        window_size: attention window (7 for the 224 models, 12 for the 384 ones).
        mlp_ratio: hidden/embed ratio of the MLPs.
        qkv_bias, qk_scale: of the attention.
        drop_rate, attn_drop_rate, drop_path_rate: dropout, attention dropout, stochastic depth
            (linearly increasing over all blocks).
        use_abs_pos_embed: add an absolute position embedding, bicubically resized to the input.
        patch_norm: LayerNorm after the patch embedding.
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a LayerNorm on each returned stage (the official dense code has them; set False to
            return the raw stage outputs as timm's ``forward_intermediates`` does).
        shift_small_maps: shift windows also along an axis whose map fits in one window, as the
            official detection code and mmdet do (default). False follows the official
            classification code and timm, which skip that shift (e.g. the 7x7 last stage at 224 px).
        frozen_stages: -1 trains all; 0 freezes the patch embedding; k > 0 also the first k stages
            (with their merging layer and output norm).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official, timm, mmdet,
            mmseg and mmpretrain checkpoints are converted on load.
    """

    converter = 'convert_swin_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    model_name_prefix = 'swin'  # vitdense.get_model('swin_...')
    arch_zoo = {
        'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
        'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
        'large': dict(embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    }
    arch_zoo.update({'t': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base'],
                     'l': arch_zoo['large']})

    @accepts_peer_args(mmdet_swin_args, 'mmdet / mmseg SwinTransformer')
    def __init__(self, arch='tiny', pretrain_img_size=224, in_channels=3, patch_size=4, window_size=7,
                 mlp_ratio=4.0, qkv_bias=True, qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0,
                 drop_path_rate=0.1, use_abs_pos_embed=False, patch_norm=True, out_indices=(0, 1, 2, 3),
                 out_norm=True, shift_small_maps=True, frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'SwinTransformer')
        self.embed_dims, depths, num_heads = cfg['embed_dims'], tuple(cfg['depths']), tuple(cfg['num_heads'])
        if len(depths) != len(num_heads):
            raise ValueError(f'depths {depths} and num_heads {num_heads} must have one entry per stage')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'SwinTransformer')
        self.frozen_stages = frozen_stages
        self.num_features = [self.embed_dims * 2 ** i for i in range(self.num_stages)]

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, patch_size,
                                      norm_layer=nn.LayerNorm if patch_norm else None)
        self.absolute_pos_embed = None
        if use_abs_pos_embed:
            n = pretrain_img_size // patch_size
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, self.embed_dims, n, n))
        self.pos_drop = nn.Dropout(drop_rate)

        dpr = drop_path_rates(drop_path_rate, depths)
        self.layers = nn.ModuleList([
            SwinStage(self.num_features[i], depths[i], num_heads[i], window_size, mlp_ratio, qkv_bias, qk_scale,
                      drop_rate, attn_drop_rate, dpr[i], nn.LayerNorm, downsample=i < self.num_stages - 1,
                      with_cp=with_cp, shift_small_maps=shift_small_maps) for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:
            # Random init of the official code (used when training from scratch / in tests).
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, WindowAttention):
                    trunc_normal_(m.relative_position_bias_table, std=0.02)
            if self.absolute_pos_embed is not None:
                trunc_normal_(self.absolute_pos_embed, std=0.02)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed)
            if self.absolute_pos_embed is not None:
                self.absolute_pos_embed.requires_grad = False
            self.pos_drop.eval()
        for i in range(1, self.frozen_stages + 1):
            freeze(self.layers[i - 1])
            freeze(getattr(self, f'norm{i - 1}', None))

    def forward(self, x: torch.Tensor):
        x, hw = self.patch_embed(x)
        if self.absolute_pos_embed is not None:
            pos = F.interpolate(self.absolute_pos_embed, size=hw, mode='bicubic', align_corners=False)
            x = x + map_to_tokens(pos)
        x = self.pos_drop(x)
        outs = []
        for i, stage in enumerate(self.layers):
            out, out_hw, x, hw = stage(x, hw)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                outs.append(out.view(-1, *out_hw, self.num_features[i]).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def _adapt_shapes(self, sd, own):
        for k, v in list(sd.items()):
            if k.endswith('relative_position_bias_table') and k in own and own[k].shape != v.shape:
                sd[k] = resize_relative_position_table(v, own[k].shape[0])
            elif k == 'absolute_pos_embed' and k in own and own[k].shape != v.shape:
                if v.dim() == 3:  # official (1, N, C) layout
                    n = int(round(v.shape[1] ** 0.5))
                    v = v.transpose(1, 2).reshape(1, -1, n, n)
                sd[k] = F.interpolate(v, size=own[k].shape[-2:], mode='bicubic', align_corners=False)
        return super()._adapt_shapes(sd, own)


# ----------------------------------------------------------------------------- checkpoint conversion

def _unfold_permutation(channels: int) -> torch.Tensor:
    """Index ``p`` with ``ours[..., c] == mm[..., p[c]]`` for 4C merged channels.

    OpenMMLab's PatchMerging concatenates the 2x2 neighbours with ``nn.Unfold``: channel-major and
    offsets (0,0), (0,1), (1,0), (1,1); the official code is offset-major in the order (0,0), (1,0),
    (0,1), (1,1)."""
    c = channels // 4
    ours = []
    for off in (0, 2, 1, 3):  # official offset order expressed in unfold's (row, col) enumeration
        ours.extend(ch * 4 + off for ch in range(c))
    return torch.tensor(ours)


def _from_openmmlab(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        nk = k.replace('patch_embed.projection.', 'patch_embed.proj.').replace('stages.', 'layers.')
        nk = nk.replace('.attn.w_msa.', '.attn.').replace('.ffn.layers.0.0.', '.mlp.fc1.')
        nk = nk.replace('.ffn.layers.1.', '.mlp.fc2.')
        if '.downsample.reduction.weight' in nk:
            v = v[:, _unfold_permutation(v.shape[1])]
        elif '.downsample.norm.' in nk:
            v = v[_unfold_permutation(v.shape[0])]
        out[nk] = v
    return out


def convert_swin_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a Swin checkpoint's weights to this module's names.

    Understood layouts: the official classification release (``layers.i.downsample`` at the end of
    stage i, final ``norm``, ``head``), the official detection release (``backbone.`` prefix, output
    norms ``norm0..3``), timm (merging at the start of stages 1..3), and mmdet / mmseg / mmpretrain
    (``stages.``, ``w_msa``, ``ffn``, unfold channel order). Derived buffers (relative-position
    index, attention masks) and the classifier head are dropped.
    """
    sd = {k: v for k, v in state_dict.items()
          if not (k.endswith('relative_position_index') or k.endswith('attn_mask') or k.startswith('head.'))}
    if any(k.startswith('stages.') for k in sd):
        sd = _from_openmmlab(sd)
    stage_ids = {int(k.split('.')[1]) for k in sd if k.startswith('layers.') and '.downsample.' in k}
    if stage_ids and 0 not in stage_ids:  # timm: merging opens stages 1.. -> it closes stages 0..
        sd = {(k.replace(f'layers.{k.split(".")[1]}.downsample.',
                         f'layers.{int(k.split(".")[1]) - 1}.downsample.')
               if k.startswith('layers.') and '.downsample.' in k else k): v for k, v in sd.items()}
    sd = rename_final_norm(sd, 'layers')  # classification checkpoints: the final norm closes the last stage
    if 'absolute_pos_embed' in sd and sd['absolute_pos_embed'].dim() == 3:
        v = sd['absolute_pos_embed']
        n = int(round(v.shape[1] ** 0.5))
        sd['absolute_pos_embed'] = v.transpose(1, 2).reshape(1, v.shape[2], n, n)
    return sd
