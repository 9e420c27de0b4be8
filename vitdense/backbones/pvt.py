"""Pyramid Vision Transformer v1 (Wang et al., ICCV 2021) and PVTv2 (Wang et al., CVMJ 2022), in the
dense-prediction form of the official detection code (whai362/PVT, branches v1 and v2,
``detection/pvt.py`` and ``detection/pvt_v2.py``).

Both stack four stages of patch embedding + spatial-reduction attention blocks
(:mod:`vitdense.layers.spatial_reduction`):

- PVT v1: non-overlapping patch embedding (4x4, then 2x2), a learned absolute position embedding per
  stage, bilinearly resized to the actual map as the official detection code does, plain MLP. The
  classification model's class token (stage 4 only) has no place in the dense model: its position
  is dropped on load, as in the official detection code.
- PVTv2: overlapping patch embedding (7x7 stride 4, then 3x3 stride 2), no position embedding,
  a 3x3 depth-wise conv inside the MLP, a LayerNorm closing every stage (inside the trunk: the next
  stage reads the normalised map); ``b2_li`` uses linear SRA (7x7 average-pooled keys, ReLU in the MLP).

Any input size: output ``i`` has ``ceil(H / 2**(i+2))`` x ``ceil(W / 2**(i+2))`` positions. PVT v1
zero-pads the input of each patch embedding to a multiple of its stride (the official code floors,
dropping the last pixels); PVTv2's padded overlapping convs give the ceil sizes by themselves. Keys
and values are reduced from a map zero-padded to a multiple of ``sr_ratio`` (``sr_pad=True``; the
official floor rule with ``sr_pad=False``). At sizes divisible by 32 every rule equals the official one.

Parameter names follow the official releases (``patch_embed{i}``, ``pos_embed{i}``, ``block{i}``,
``norm{i}``, 1-based); ``convert_pvt_checkpoint`` / ``convert_pvtv2_checkpoint`` also read mmdet-
(``layers.i.0.projection``, fused ``in_proj``, 1x1-conv FFN) and timm-format (``stages.i``) weights.
"""
import math
import re
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import PatchEmbed, drop_path_rates, maybe_checkpoint, to_2tuple
from ..layers.shape import tokens_to_map
from ..layers.spatial_reduction import init_sra_weights_, sra_blocks
from ..registry import MODELS
from .base import (BaseBackbone, accepts_peer_args, check_out_indices, freeze, require_peer_values,
                   resolve_arch)

_ESSENTIAL = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios', 'sr_ratios')
_HEADS = (1, 2, 5, 8)
_WIDE = (64, 128, 320, 512)


def _block_norm(dim):
    return nn.LayerNorm(dim, eps=1e-6)  # the official blocks' norm_layer; patch-embed/SR norms keep 1e-5



class _PVTBase(BaseBackbone):
    """Shared arch handling, freezing and forward loop of :class:`PVT` and :class:`PVTv2`."""

    def _setup(self, arch, out_indices, frozen_stages):
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, _ESSENTIAL, name)
        self.embed_dims = tuple(cfg['embed_dims'])
        depths = tuple(cfg['depths'])
        per_stage = [tuple(cfg[k]) for k in ('embed_dims', 'num_heads', 'mlp_ratios', 'sr_ratios')]
        if any(len(v) != len(depths) for v in per_stage):
            raise ValueError(f'{name}: embed_dims, num_heads, mlp_ratios and sr_ratios need one entry per '
                             f'stage of depths {depths}')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.frozen_stages = frozen_stages
        self.num_features = list(self.embed_dims)
        return cfg, depths

    def _stage_modules(self, i):
        return [getattr(self, f'{n}{i + 1}', None) for n in ('patch_embed', 'block', 'norm')]

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed1)
            if getattr(self, 'pos_embed1', None) is not None:
                self.pos_embed1.requires_grad = False
        for i in range(self.frozen_stages):
            for m in self._stage_modules(i):
                freeze(m)
            if getattr(self, f'pos_embed{i + 1}', None) is not None:
                getattr(self, f'pos_embed{i + 1}').requires_grad = False

    def _stage_input(self, i: int, x: torch.Tensor, hw) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x, hw = getattr(self, f'patch_embed{i + 1}')(x)
            x = self._stage_input(i, x, hw)
            for blk in getattr(self, f'block{i + 1}'):
                x = maybe_checkpoint(blk, x, hw, enabled=self.with_cp)
            norm = getattr(self, f'norm{i + 1}', None)
            x = tokens_to_map(x if norm is None else norm(x), hw).contiguous()  # NCHW maps for the necks
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


def _mmdet_pvt_args(version: int):
    """mmdet's ``PyramidVisionTransformer`` (v1) / ``...V2`` arguments in ours: the scalar
    ``embed_dims`` times ``num_heads`` gives our per-stage widths; the structure switches
    (patch sizes, paddings, position embedding, norms, conv FFN) must be the version's own."""
    family = 'PVT' if version == 1 else 'PVTv2'
    structure = dict(num_stages=4, strides=(4, 2, 2, 2), act_cfg={'type': 'GELU'},
                     norm_cfg={'type': 'LN', 'eps': 1e-6})
    if version == 1:
        structure.update(patch_sizes=(4, 2, 2, 2), paddings=(0, 0, 0, 0), use_abs_pos_embed=True,
                         norm_after_stage=False, use_conv_ffn=False)
    else:
        structure.update(patch_sizes=(7, 3, 3, 3), paddings=(3, 1, 1, 1), use_abs_pos_embed=False,
                         norm_after_stage=True, use_conv_ffn=True)

    keys = ('embed_dims', 'num_layers', 'num_heads', 'mlp_ratios', 'sr_ratios')

    def translate(a: dict) -> dict:
        out = {}
        require_peer_values(a, family, **structure)
        if set(keys) & set(a):
            heads, base = tuple(a.pop('num_heads', _HEADS)), a.pop('embed_dims', 64)
            out['arch'] = dict(embed_dims=tuple(base * h for h in heads),
                               depths=tuple(a.pop('num_layers', (3, 4, 6, 3))), num_heads=heads,
                               mlp_ratios=tuple(a.pop('mlp_ratios', (8, 8, 4, 4))),
                               sr_ratios=tuple(a.pop('sr_ratios', (8, 4, 2, 1))))
        if version == 2:
            a.pop('pretrain_img_size', None)  # mmdet's v2 has no position embedding to size
        a.pop('convert_weights', None)  # official and mmdet layouts are recognised by their keys
        if a.get('pretrained') is not None:
            out['init_cfg'] = dict(type='Pretrained', checkpoint=a.pop('pretrained'))
        a.pop('pretrained', None)
        return out

    translate.accepts = tuple(structure) + keys + ('convert_weights', 'pretrained')
    if version == 2:
        translate.accepts += ('pretrain_img_size', )
    return translate


@MODELS.register_module()
class PVT(_PVTBase):
    """Pyramid Vision Transformer (v1) backbone.

    Args:
        arch: 'tiny' | 'small' | 'medium' | 'large' (or 't'/'s'/'m'/'l'), or a dict with
            ``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``, ``sr_ratios`` (one per stage).
        pretrain_img_size: image size of the pre-training, which sizes the position embeddings
            (224 -> 56x56, 28x28, 14x14, 7x7 grids); they are bilinearly resized to other inputs.
        in_channels: input image channels.
        qkv_bias, qk_scale: of the attention.
        drop_rate, attn_drop_rate, drop_path_rate: dropout (also after the position embeddings),
            attention dropout, stochastic depth (linearly increasing over all blocks).
        sr_pad: reduce keys/values from a map padded to a multiple of ``sr_ratio`` (default) or
            with the official floor rule (False).
        out_indices: stages returned (strides 4, 8, 16, 32).
        final_norm: a LayerNorm ``norm4`` closing the last stage. The official dense code has none
            (default False); the classifier's final ``norm`` loads into it.
        frozen_stages: -1 trains all; 0 freezes the first patch embedding (and its position
            embedding); k > 0 freezes the first k stages.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official (classification
            or detection) and mmdet checkpoints are converted on load.
    """

    converter = 'convert_pvt_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'tiny': dict(embed_dims=_WIDE, depths=(2, 2, 2, 2), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                     sr_ratios=(8, 4, 2, 1)),
        'small': dict(embed_dims=_WIDE, depths=(3, 4, 6, 3), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                      sr_ratios=(8, 4, 2, 1)),
        'medium': dict(embed_dims=_WIDE, depths=(3, 4, 18, 3), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                       sr_ratios=(8, 4, 2, 1)),
        'large': dict(embed_dims=_WIDE, depths=(3, 8, 27, 3), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                      sr_ratios=(8, 4, 2, 1)),
    }
    arch_zoo.update({k[0]: v for k, v in list(arch_zoo.items())})

    @accepts_peer_args(_mmdet_pvt_args(1), 'mmdet PyramidVisionTransformer')
    def __init__(self, arch='tiny', pretrain_img_size=224, in_channels=3, qkv_bias=True, qk_scale=None,
                 drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1, sr_pad=True, out_indices=(0, 1, 2, 3),
                 final_norm=False, frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg, depths = self._setup(arch, out_indices, frozen_stages)
        self.with_cp = with_cp
        img = to_2tuple(pretrain_img_size)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.pos_grids = []
        prev = in_channels
        for i, dim in enumerate(self.embed_dims):
            stride = 4 if i == 0 else 2
            grid = (img[0] // 2 ** (i + 2), img[1] // 2 ** (i + 2))
            self.pos_grids.append(grid)
            setattr(self, f'patch_embed{i + 1}', PatchEmbed(prev, dim, stride, norm_layer=nn.LayerNorm))
            setattr(self, f'pos_embed{i + 1}', nn.Parameter(torch.zeros(1, grid[0] * grid[1], dim)))
            setattr(self, f'pos_drop{i + 1}', nn.Dropout(drop_rate))
            setattr(self, f'block{i + 1}', sra_blocks(
                dim, cfg['num_heads'][i], cfg['mlp_ratios'][i], cfg['sr_ratios'][i], dpr[i],
                qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop_rate, attn_drop=attn_drop_rate,
                sr_pad=sr_pad))
            if final_norm and i == self.num_stages - 1:
                setattr(self, f'norm{i + 1}', _block_norm(dim))
            prev = dim
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:
            init_sra_weights_(self, conv_fan_out=False)
            for i in range(self.num_stages):
                trunc_normal_(getattr(self, f'pos_embed{i + 1}'), std=0.02)
            return
        super().init_weights()

    def _pos_embed(self, i: int, hw) -> torch.Tensor:
        pos = getattr(self, f'pos_embed{i + 1}')
        grid = self.pos_grids[i]
        if tuple(hw) == grid:
            return pos
        pos = pos.reshape(1, grid[0], grid[1], -1).permute(0, 3, 1, 2)
        return F.interpolate(pos, size=hw, mode='bilinear', align_corners=False).flatten(2).transpose(1, 2)

    def _stage_input(self, i: int, x: torch.Tensor, hw) -> torch.Tensor:
        return getattr(self, f'pos_drop{i + 1}')(x + self._pos_embed(i, hw))

    def _adapt_shapes(self, sd, own):
        for k, v in list(sd.items()):
            if k.startswith('pos_embed') and k in own and own[k].shape != v.shape:
                i = int(k[len('pos_embed'):]) - 1
                n = int(round(math.sqrt(v.shape[1])))
                if n * n != v.shape[1]:
                    raise RuntimeError(f'PVT: cannot resize the non-square position embedding {k} '
                                       f'{tuple(v.shape)}')
                grid = v.reshape(1, n, n, -1).permute(0, 3, 1, 2)
                grid = F.interpolate(grid, size=self.pos_grids[i], mode='bilinear', align_corners=False)
                sd[k] = grid.flatten(2).transpose(1, 2)
        for k in [k for k in sd if k.startswith('norm') and k not in own]:
            sd.pop(k)  # the classifier's final norm when final_norm is off: not part of the dense model
        return super()._adapt_shapes(sd, own)


@MODELS.register_module()
class PVTv2(_PVTBase):
    """PVTv2 backbone.

    Args:
        arch: 'b0' .. 'b5' or 'b2_li' (linear SRA), or a dict with ``embed_dims``, ``depths``,
            ``num_heads``, ``mlp_ratios``, ``sr_ratios`` (one per stage) and optionally ``linear``.
        in_channels: input image channels.
        qkv_bias, qk_scale: of the attention.
        drop_rate, attn_drop_rate, drop_path_rate: dropout, attention dropout, stochastic depth
            (linearly increasing over all blocks).
        sr_pad: reduce keys/values from a map padded to a multiple of ``sr_ratio`` (default) or
            with the official floor rule (False). Not used by the linear (pooled) form.
        out_indices: stages returned (strides 4, 8, 16, 32). Every stage ends with its LayerNorm
            ``norm{i+1}`` (the next stage reads the normalised map, as in the official code), so
            the returned maps are always normalised.
        frozen_stages: -1 trains all; 0 freezes the first patch embedding; k > 0 the first k stages.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official, timm and mmdet
            checkpoints are converted on load.
    """

    converter = 'convert_pvtv2_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'b0': dict(embed_dims=(32, 64, 160, 256), depths=(2, 2, 2, 2), num_heads=_HEADS,
                   mlp_ratios=(8, 8, 4, 4), sr_ratios=(8, 4, 2, 1)),
        'b1': dict(embed_dims=_WIDE, depths=(2, 2, 2, 2), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                   sr_ratios=(8, 4, 2, 1)),
        'b2': dict(embed_dims=_WIDE, depths=(3, 4, 6, 3), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                   sr_ratios=(8, 4, 2, 1)),
        'b2_li': dict(embed_dims=_WIDE, depths=(3, 4, 6, 3), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                      sr_ratios=(8, 4, 2, 1), linear=True),
        'b3': dict(embed_dims=_WIDE, depths=(3, 4, 18, 3), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                   sr_ratios=(8, 4, 2, 1)),
        'b4': dict(embed_dims=_WIDE, depths=(3, 8, 27, 3), num_heads=_HEADS, mlp_ratios=(8, 8, 4, 4),
                   sr_ratios=(8, 4, 2, 1)),
        'b5': dict(embed_dims=_WIDE, depths=(3, 6, 40, 3), num_heads=_HEADS, mlp_ratios=(4, 4, 4, 4),
                   sr_ratios=(8, 4, 2, 1)),
    }

    @accepts_peer_args(_mmdet_pvt_args(2), 'mmdet PyramidVisionTransformerV2')
    def __init__(self, arch='b0', in_channels=3, qkv_bias=True, qk_scale=None, drop_rate=0.0,
                 attn_drop_rate=0.0, drop_path_rate=0.1, sr_pad=True, out_indices=(0, 1, 2, 3),
                 frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg, depths = self._setup(arch, out_indices, frozen_stages)
        self.linear = bool(cfg.get('linear', False))
        self.with_cp = with_cp
        dpr = drop_path_rates(drop_path_rate, depths)
        prev = in_channels
        for i, dim in enumerate(self.embed_dims):
            k, s = (7, 4) if i == 0 else (3, 2)
            setattr(self, f'patch_embed{i + 1}',
                    PatchEmbed(prev, dim, k, stride=s, padding=k // 2, norm_layer=nn.LayerNorm))
            setattr(self, f'block{i + 1}', sra_blocks(
                dim, cfg['num_heads'][i], cfg['mlp_ratios'][i], cfg['sr_ratios'][i], dpr[i],
                qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop_rate, attn_drop=attn_drop_rate,
                linear=self.linear, sr_pad=sr_pad, conv_mlp=True))
            setattr(self, f'norm{i + 1}', _block_norm(dim))
            prev = dim
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:
            init_sra_weights_(self, conv_fan_out=True)
            return
        super().init_weights()



# ----------------------------------------------------------------------------- checkpoint conversion

def _from_mmdet(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """mmdet ``PyramidVisionTransformer(V2)`` keys -> official keys.

    mmdet stage ``i`` is ``layers.i`` = [patch embed, [pos embed?] + blocks, norm]; attention is an
    ``nn.MultiheadAttention`` (``in_proj`` = [q; k; v], ``out_proj``), the FFN is 1x1 convs in a
    Sequential (fc1 at 0, depth-wise conv at 1 when present, fc2 last)."""
    has_pos = any(re.match(r'layers\.\d+\.1\.0\.pos_embed$', k) for k in sd)
    conv_ffn = any(k.endswith('.ffn.layers.1.weight') for k in sd)  # depth-wise conv (PVTv2)
    out = {}
    for k, v in sd.items():
        m = re.match(r'layers\.(\d+)\.(\d+)\.(.*)$', k)
        if not m:
            out[k] = v
            continue
        i, part, rest = int(m.group(1)) + 1, int(m.group(2)), m.group(3)
        if part == 0:  # patch embedding
            out[f'patch_embed{i}.' + rest.replace('projection.', 'proj.')] = v
        elif part == 2:  # stage norm
            out[f'norm{i}.{rest}'] = v
        else:
            j, sub = rest.split('.', 1)
            j = int(j)
            if has_pos and j == 0:
                out[f'pos_embed{i}'] = v
                continue
            pre = f'block{i}.{j - int(has_pos)}.'
            if sub.startswith('attn.attn.in_proj_'):
                kind = sub[len('attn.attn.in_proj_'):]
                c = v.shape[0] // 3
                out[pre + f'attn.q.{kind}'] = v[:c]
                out[pre + f'attn.kv.{kind}'] = v[c:]
            elif sub.startswith('attn.attn.out_proj.'):
                out[pre + 'attn.proj.' + sub.split('.')[-1]] = v
            elif sub.startswith('ffn.layers.'):
                idx, kind = sub[len('ffn.layers.'):].split('.')
                name = {'0': 'fc1', '1': 'dwconv' if conv_ffn else None, '3': 'fc2', '4': 'fc2'}[idx]
                out[pre + f'mlp.{name}.{kind}'] = v.flatten(1) if name != 'dwconv' and v.dim() == 4 else v
            else:
                out[pre + sub] = v
    return out


def _is_mmdet(sd) -> bool:
    return any(k.startswith('layers.0.0.projection.') for k in sd)


def convert_pvt_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a PVT (v1) checkpoint's weights to :class:`PVT`'s names.

    Understood layouts: the official classification release (``cls_token``, stage-4 position
    embedding with the class position, final ``norm``, ``head``), the official detection release
    (``backbone.`` prefix, stripped by the loader) and mmdet's ``PyramidVisionTransformer``. The class
    token and its position are dropped, the final ``norm`` becomes ``norm4``.
    """
    sd = dict(state_dict)
    if _is_mmdet(sd):
        sd = _from_mmdet(sd)
    out = {}
    for k, v in sd.items():
        if k.startswith('head.') or k == 'cls_token':
            continue
        if k.startswith('pos_embed') and v.dim() == 3:
            n = v.shape[1]
            if int(math.isqrt(n)) ** 2 != n and int(math.isqrt(n - 1)) ** 2 == n - 1:
                v = v[:, 1:]  # drop the class-token position (stage 4 of the classifier)
        if k.startswith('norm.'):
            last = max(int(m.group(1)) for m in (re.match(r'block(\d+)\.', x) for x in sd) if m)
            k = f'norm{last}.' + k[len('norm.'):]
        out[k] = v
    return out


def convert_pvtv2_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a PVTv2 checkpoint's weights to :class:`PVTv2`'s names.

    Understood layouts: the official classification and detection releases (``mlp.dwconv.dwconv``
    -> ``mlp.dwconv``, ``head`` dropped), timm's ``pvt_v2_*`` (``patch_embed``, ``stages.i.downsample``,
    ``stages.i.blocks.j``, ``stages.i.norm``) and mmdet's ``PyramidVisionTransformerV2``.
    """
    sd = dict(state_dict)
    if _is_mmdet(sd):
        sd = _from_mmdet(sd)
    out = {}
    for k, v in sd.items():
        if k.startswith('head.'):
            continue
        k = k.replace('.mlp.dwconv.dwconv.', '.mlp.dwconv.')
        k = re.sub(r'^patch_embed\.', 'patch_embed1.', k)
        k = re.sub(r'^stages\.(\d+)\.downsample\.', lambda m: f'patch_embed{int(m.group(1)) + 1}.', k)
        k = re.sub(r'^stages\.(\d+)\.blocks\.', lambda m: f'block{int(m.group(1)) + 1}.', k)
        k = re.sub(r'^stages\.(\d+)\.norm\.', lambda m: f'norm{int(m.group(1)) + 1}.', k)
        out[k] = v
    return out
