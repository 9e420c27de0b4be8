"""Twins (Chu et al., NeurIPS 2021): Twins-PCPVT and Twins-SVT, in the dense-prediction form of the
official code (Meituan-AutoML/Twins, ``detection/gvt.py`` and ``segmentation/gvt.py``).

- PCPVT: PVT v1's pyramid (non-overlapping 4x4 then 2x2 patch embedding, spatial-reduction attention
  from :mod:`vitdense.layers.spatial_reduction`) with the fixed position embeddings replaced by a
  conditional position encoding (PEG: a 3x3 depth-wise conv added to the tokens after the first block
  of each stage).
- SVT: the same pyramid and PEG, blocks alternating locally-grouped self-attention (LSA, attention
  inside non-overlapping ``ws`` x ``ws`` windows) and global sub-sampled attention (GSA, the
  spatial-reduction attention), and a LayerNorm closing every stage (``extra_norm`` of the official
  dense code; it sits in the trunk: the next stage reads the normalised map).

Any input size: output ``i`` has ``ceil(H / 2**(i+2))`` x ``ceil(W / 2**(i+2))`` positions (each patch
embedding zero-pads its input to a multiple of its stride; the official code floors). LSA pads the
map to a multiple of the window as the official code does; ``lsa_pad_mask=True`` (default) keeps
real and padded tokens from attending to each other as the official segmentation code intends,
``False`` lets the zero padding take part as in the official detection code (and timm). GSA reduces
keys from a map padded to a multiple of ``sr_ratio`` (``sr_pad=True``) or with the official floor
rule (``sr_pad=False``); both agree at sizes divisible by 32.

Parameter names follow the official release (``patch_embeds.i``, ``blocks.i.j``, ``pos_block.i.proj.0``;
the output norms are ``norm{i}``); ``convert_twins_checkpoint`` also reads the official dense
(``norm_list``), timm and mmseg (``layers``, ``position_encodings``, fused ``in_proj``) formats.
"""
import re
from functools import lru_cache
from typing import Dict

import torch
import torch.nn as nn

from ..layers import (Attention, PatchEmbed, drop_path_rates, maybe_checkpoint, pad_to_multiple,
                      window_partition, window_reverse)
from ..layers.shape import depthwise_conv_channels_last, map_to_tokens, tokens_to_map
from ..layers.spatial_reduction import init_sra_weights_, sra_blocks
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


@lru_cache(maxsize=32)
def _padding_mask(Hp: int, Wp: int, H: int, W: int, ws: int, device: torch.device, dtype: torch.dtype):
    """``(num_windows, 1, N, N)`` additive mask: -1000 between a real and a padded token."""
    pad = torch.zeros(1, Hp, Wp, 1, device=device)
    pad[:, H:] = 1
    pad[:, :, W:] = 1
    win = window_partition(pad, ws).squeeze(-1)  # (nW, N)
    return ((win.unsqueeze(1) != win.unsqueeze(2)).to(dtype) * -1000.0).unsqueeze(1)


class LocallyGroupedAttention(Attention):
    """LSA: self-attention inside non-overlapping ``ws`` x ``ws`` windows of a zero-padded map."""

    def __init__(self, dim, num_heads, window_size=7, qkv_bias=True, qk_scale=None, attn_drop=0.0,
                 proj_drop=0.0, pad_mask=True):
        super().__init__(dim, num_heads, qkv_bias, qk_scale, attn_drop, proj_drop)
        self.window_size = window_size
        self.pad_mask = pad_mask

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        H, W = hw
        B, N, C = x.shape
        ws = self.window_size
        y = pad_to_multiple(x.view(B, H, W, C), ws)
        Hp, Wp = y.shape[1:3]
        mask = None
        if self.pad_mask and (Hp > H or Wp > W):
            mask = _padding_mask(Hp, Wp, H, W, ws, y.device, y.dtype)
        y = window_reverse(super().forward(window_partition(y, ws), mask), ws, Hp, Wp)
        return y[:, :H, :W].reshape(B, N, C)

    def extra_repr(self) -> str:
        return f'window_size={self.window_size}, pad_mask={self.pad_mask}'


class PosConv(nn.Module):
    """PEG: tokens + 3x3 depth-wise conv of their map (``proj.0`` as in the official code)."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(dim, dim, 3, 1, 1, bias=True, groups=dim))

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        feat = tokens_to_map(x, hw)
        return map_to_tokens(depthwise_conv_channels_last(self.proj[0], feat) + feat)



def _block_norm(dim):
    return nn.LayerNorm(dim, eps=1e-6)  # the official norm_layer; patch-embed/GSA norms keep 1e-5


@MODELS.register_module()
class TwinsPCPVT(BaseBackbone):
    """Twins-PCPVT backbone.

    Args:
        arch: 'small' | 'base' | 'large' (or 's'/'b'/'l'), or a dict with ``embed_dims``, ``depths``,
            ``num_heads``, ``mlp_ratios``, ``sr_ratios`` (one per stage).
        in_channels: input image channels.
        qkv_bias, qk_scale: of the attention.
        drop_rate, attn_drop_rate, drop_path_rate: dropout (also after each patch embedding),
            attention dropout, stochastic depth (linearly increasing over all blocks).
        sr_pad: reduce keys/values from a map padded to a multiple of ``sr_ratio`` (default) or
            with the official floor rule (False).
        out_indices: stages returned (strides 4, 8, 16, 32).
        extra_norm: a LayerNorm ``norm{i}`` closing every stage, inside the trunk (the official
            dense code's ``extra_norm``: off for PCPVT, on for SVT).
        final_norm: without ``extra_norm``, a LayerNorm closing the last stage only: the ImageNet
            classifier's final ``norm`` (use with ``out_indices=(3,)`` and global pooling).
        frozen_stages: -1 trains all; 0 freezes the first patch embedding; k > 0 the first k stages.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=URL_OR_PATH)``; official, timm and mmseg
            checkpoints are converted on load.
    """

    model_name_prefix = 'twins_pcpvt'  # vitdense.get_model('twins_pcpvt_...')
    converter = 'convert_twins_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'small': dict(embed_dims=(64, 128, 320, 512), depths=(3, 4, 6, 3), num_heads=(1, 2, 5, 8),
                      mlp_ratios=(8, 8, 4, 4), sr_ratios=(8, 4, 2, 1)),
        'base': dict(embed_dims=(64, 128, 320, 512), depths=(3, 4, 18, 3), num_heads=(1, 2, 5, 8),
                     mlp_ratios=(8, 8, 4, 4), sr_ratios=(8, 4, 2, 1)),
        'large': dict(embed_dims=(64, 128, 320, 512), depths=(3, 8, 27, 3), num_heads=(1, 2, 5, 8),
                      mlp_ratios=(8, 8, 4, 4), sr_ratios=(8, 4, 2, 1)),
    }
    arch_zoo.update({k[0]: v for k, v in list(arch_zoo.items())})
    essential_keys = ('embed_dims', 'depths', 'num_heads', 'mlp_ratios', 'sr_ratios')
    default_extra_norm = False
    attn_options = ()  # extra keyword arguments of the sub-class's token mixers

    def __init__(self, arch='small', in_channels=3, qkv_bias=True, qk_scale=None, drop_rate=0.0,
                 attn_drop_rate=0.0, drop_path_rate=0.2, sr_pad=True, out_indices=(0, 1, 2, 3),
                 extra_norm=None, final_norm=False, frozen_stages=-1, with_cp=False, init_cfg=None,
                 **attn_kwargs):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        unknown = sorted(set(attn_kwargs) - set(self.attn_options))
        if unknown:
            raise TypeError(f'{name} got unexpected arguments {unknown}')
        cfg = resolve_arch(arch, self.arch_zoo, self.essential_keys, name)
        self.embed_dims = tuple(cfg['embed_dims'])
        depths = tuple(cfg['depths'])
        if any(len(cfg[k]) != len(depths) for k in self.essential_keys):
            per_stage = ', '.join(k for k in self.essential_keys if k != 'depths')
            raise ValueError(f'{name}: {per_stage} need one entry per stage of depths {depths}')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.num_features = list(self.embed_dims)
        extra_norm = self.default_extra_norm if extra_norm is None else extra_norm

        dpr = drop_path_rates(drop_path_rate, depths)
        self.patch_embeds = nn.ModuleList()
        self.pos_drops = nn.ModuleList()
        self.blocks = nn.ModuleList()
        prev = in_channels
        for i, dim in enumerate(self.embed_dims):
            self.patch_embeds.append(PatchEmbed(prev, dim, 4 if i == 0 else 2, norm_layer=nn.LayerNorm))
            self.pos_drops.append(nn.Dropout(drop_rate))
            self.blocks.append(sra_blocks(
                dim, cfg['num_heads'][i], cfg['mlp_ratios'][i], cfg['sr_ratios'][i], dpr[i],
                qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop_rate, attn_drop=attn_drop_rate, sr_pad=sr_pad,
                make_attn=lambda j: self._make_attn(cfg, i, j, qkv_bias, qk_scale, attn_drop_rate, drop_rate,
                                                    **attn_kwargs)))
            prev = dim
        self.pos_block = nn.ModuleList([PosConv(dim) for dim in self.embed_dims])
        for i, dim in enumerate(self.embed_dims):
            if extra_norm or (final_norm and i == self.num_stages - 1):
                self.add_module(f'norm{i}', _block_norm(dim))
        self._freeze_stages()

    def _make_attn(self, cfg, i, j, qkv_bias, qk_scale, attn_drop, proj_drop):
        return None  # every PCPVT block uses the spatial-reduction attention

    def init_weights(self):
        if self.init_cfg is None:  # the official random init
            init_sra_weights_(self, conv_fan_out=True)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embeds[0])
        for i in range(self.frozen_stages):
            for m in (self.patch_embeds[i], self.pos_drops[i], self.blocks[i], self.pos_block[i],
                      getattr(self, f'norm{i}', None)):
                freeze(m)

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x, hw = self.patch_embeds[i](x)
            x = self.pos_drops[i](x)
            for j, blk in enumerate(self.blocks[i]):
                x = maybe_checkpoint(blk, x, hw, enabled=self.with_cp)
                if j == 0:
                    x = self.pos_block[i](x, hw)
            norm = getattr(self, f'norm{i}', None)
            x = tokens_to_map(x if norm is None else norm(x), hw).contiguous()  # NCHW maps for the necks
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _adapt_shapes(self, sd, own):
        for k in [k for k in sd if re.match(r'norm\d+\.', k) and k not in own]:
            sd.pop(k)  # the classifier's final norm in a model without it: not part of the dense model
        return super()._adapt_shapes(sd, own)


@MODELS.register_module()
class TwinsSVT(TwinsPCPVT):
    """Twins-SVT backbone: PCPVT's pyramid with blocks alternating LSA (even blocks) and GSA (odd).

    Args:
        arch: 'small' | 'base' | 'large' (or 's'/'b'/'l'), or a dict with ``embed_dims``, ``depths``,
            ``num_heads``, ``mlp_ratios``, ``sr_ratios`` and ``window_sizes`` (one per stage).
        lsa_pad_mask: in LSA, mask attention between real and padded tokens (default; the official
            segmentation code) or let the zero padding take part (False; the official detection code).
        extra_norm: a LayerNorm closing every stage (default True, as the official dense SVT).
        Others: as :class:`TwinsPCPVT`.
    """

    model_name_prefix = 'twins_svt'  # vitdense.get_model('twins_svt_...')
    converter = 'convert_twins_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'small': dict(embed_dims=(64, 128, 256, 512), depths=(2, 2, 10, 4), num_heads=(2, 4, 8, 16),
                      mlp_ratios=(4, 4, 4, 4), sr_ratios=(8, 4, 2, 1), window_sizes=(7, 7, 7, 7)),
        'base': dict(embed_dims=(96, 192, 384, 768), depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24),
                     mlp_ratios=(4, 4, 4, 4), sr_ratios=(8, 4, 2, 1), window_sizes=(7, 7, 7, 7)),
        'large': dict(embed_dims=(128, 256, 512, 1024), depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32),
                      mlp_ratios=(4, 4, 4, 4), sr_ratios=(8, 4, 2, 1), window_sizes=(7, 7, 7, 7)),
    }
    arch_zoo.update({k[0]: v for k, v in list(arch_zoo.items())})
    essential_keys = TwinsPCPVT.essential_keys + ('window_sizes', )
    default_extra_norm = True
    attn_options = ('lsa_pad_mask', )

    def __init__(self, arch='small', lsa_pad_mask=True, **kwargs):
        super().__init__(arch, lsa_pad_mask=lsa_pad_mask, **kwargs)

    def _make_attn(self, cfg, i, j, qkv_bias, qk_scale, attn_drop, proj_drop, lsa_pad_mask=True):
        if j % 2:
            return None  # GSA
        return LocallyGroupedAttention(self.embed_dims[i], cfg['num_heads'][i], cfg['window_sizes'][i],
                                       qkv_bias, qk_scale, attn_drop, proj_drop, pad_mask=lsa_pad_mask)


# ----------------------------------------------------------------------------- checkpoint conversion

def _from_mmseg(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        k = re.sub(r'^patch_embeds\.(\d+)\.projection\.', r'patch_embeds.\1.proj.', k)
        k = re.sub(r'^position_encodings\.(\d+)\.proj\.', r'pos_block.\1.proj.0.', k)
        k = re.sub(r'^layers\.', 'blocks.', k)
        k = k.replace('.ffn.layers.0.0.', '.mlp.fc1.').replace('.ffn.layers.1.', '.mlp.fc2.')
        if '.attn.attn.in_proj_' in k:
            c = v.shape[0] // 3
            out[k.replace('.attn.attn.in_proj_', '.attn.q.')] = v[:c]
            out[k.replace('.attn.attn.in_proj_', '.attn.kv.')] = v[c:]
            continue
        out[k.replace('.attn.attn.out_proj.', '.attn.proj.')] = v
    return out


def convert_twins_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a Twins (PCPVT or SVT) checkpoint's weights to this module's names.

    Understood layouts: the official classification release (``patch_embeds``, ``blocks``,
    ``pos_block``, final ``norm`` -> ``norm{last}``, ``head`` dropped), the official dense releases
    (``norm_list.i`` -> ``norm{i}``; their unused final ``norm`` is dropped), timm's ``twins_*`` (the
    official layout) and mmseg's ``PCPVT``/``SVT`` (also the twins2mmseg-converted ImageNet weights).
    """
    sd = {k: v for k, v in state_dict.items() if not k.startswith('head.')}
    if any(k.startswith(('layers.', 'position_encodings.')) for k in sd):
        sd = _from_mmseg(sd)
    has_list = any(k.startswith('norm_list.') for k in sd)
    last = max((int(k.split('.')[1]) for k in sd if k.startswith('patch_embeds.')), default=3)
    out = {}
    for k, v in sd.items():
        if k.startswith('norm.'):
            if has_list:
                continue
            k = f'norm{last}.' + k[len('norm.'):]
        out[re.sub(r'^norm_list\.(\d+)\.', r'norm\1.', k)] = v
    return out
