"""LITv2 (Pan et al., NeurIPS 2022, "Fast Vision Transformers with HiLo Attention"), the dense-prediction
form of the official detection/segmentation code (ziplab/LITv2).

Stages 1-2 are MLP-only (pre-norm conv-FFN blocks: fc1 -> 3x3 depth-wise conv -> GELU -> fc2), stages 3-4
use HiLo attention: ``alpha`` of the heads (Lo-Fi) attend from every position to keys/values average-
pooled over ``s x s`` windows, the other heads (Hi-Fi) attend inside each ``s x s`` window (``s`` =
``local_ws`` of the stage; ``s = 1`` is plain multi-head self-attention). Stages are joined by deformable
token merging (DTM): a 2x2 stride-2 deformable convolution (DCNv1, with bias) -> BatchNorm -> GELU.

Any input size (rule: every stage map is ``ceil(H / stride) x ceil(W / stride)``): the image is zero-
padded to the patch size, HiLo pads its (normalised) map with zeros at the bottom/right to a multiple
of ``s`` and crops the result (as the official dense code does: padded zeros enter the pooled Lo-Fi
keys), and an odd map is zero-padded to even before DTM. The official code floors odd maps in DTM
(drops the last row/column); mmdet pads inputs to multiples of 32, where both rules agree.

Parameter names follow the official release (``layers.{i}.blocks.{j}.attn.l_q``, ``.downsample.dconv``,
...); ``convert_litv2_checkpoint`` only renames the conv-FFN's depth-wise conv and the final norm.
"""
import math
from typing import Dict, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import deform_conv2d

from ..layers import (ConvMlp, DropPath, PatchEmbed, attention, drop_path_rates, maybe_checkpoint,
                      pad_to_multiple, window_partition, window_reverse)
from ..layers.weight_init import init_conv_fan_out_, init_linear_and_layernorm_
from ..layers.shape import map_to_tokens, tokens_to_map
from ..registry import MODELS
from ._convert import rename_final_norm
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class DeformConv2dPack(nn.Module):
    """Deformable convolution v1 whose offsets come from a plain conv of the same geometry
    (``conv_offset``, zero-initialised), with a bias: the module of the official LITv2 code.

    mmcv's ``DeformConv2dPack`` has no bias; torchvision's ``deform_conv2d`` is the same operator
    (offsets ``(dy, dx)`` per kernel tap, bilinear sampling, zeros outside the map) with a bias, on
    CPU and GPU (tests/test_litv2.py checks it against mmcv's op).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 2, stride: int = 2,
                 padding: int = 0):
        super().__init__()
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.conv_offset = nn.Conv2d(in_channels, 2 * kernel_size * kernel_size, kernel_size, stride, padding)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.weight[0].numel())
        nn.init.uniform_(self.bias, -bound, bound)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = self.conv_offset(x)
        return deform_conv2d(x, offset, self.weight, self.bias, stride=self.stride, padding=self.padding)


class DTM(nn.Module):
    """Deformable token merging: ``(B, H*W, C)`` -> ``(B, ceil(H/2)*ceil(W/2), 2C)``."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.dconv = DeformConv2dPack(dim, out_dim, kernel_size=2, stride=2)
        self.norm_layer = nn.BatchNorm2d(out_dim)
        self.act_layer = nn.GELU()

    def forward(self, x: torch.Tensor, hw):
        B, _, C = x.shape
        x = tokens_to_map(x, hw).contiguous()
        if hw[0] % 2 or hw[1] % 2:
            x = F.pad(x, (0, hw[1] % 2, 0, hw[0] % 2))
        x = self.act_layer(self.norm_layer(self.dconv(x)))
        return map_to_tokens(x), tuple(x.shape[2:])


class HiLo(nn.Module):
    """HiLo attention on tokens ``(B, H*W, C)``.

    ``int(num_heads * alpha)`` Lo-Fi heads (``l_q``, ``l_kv``, ``l_proj``) attend to keys/values
    average-pooled over ``window_size``-sized windows; the remaining Hi-Fi heads (``h_qkv``,
    ``h_proj``) attend within each window. The two outputs are concatenated (Hi-Fi channels first).
    ``window_size == 1`` makes all heads Lo-Fi without pooling (standard self-attention).
    """

    def __init__(self, dim: int, num_heads: int, window_size: int = 2, alpha: float = 0.9,
                 qkv_bias: bool = True, qk_scale=None):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'HiLo: dim={dim} is not divisible by num_heads={num_heads}')
        if window_size < 1:
            raise ValueError(f'HiLo: window_size must be >= 1, got {window_size}')
        head_dim = dim // num_heads
        self.ws = window_size
        self.l_heads = num_heads if window_size == 1 else int(num_heads * alpha)
        self.h_heads = num_heads - self.l_heads
        self.l_dim, self.h_dim = self.l_heads * head_dim, self.h_heads * head_dim
        self.scale = qk_scale or head_dim ** -0.5
        if self.l_heads > 0:
            self.l_q = nn.Linear(dim, self.l_dim, bias=qkv_bias)
            self.l_kv = nn.Linear(dim, 2 * self.l_dim, bias=qkv_bias)
            self.l_proj = nn.Linear(self.l_dim, self.l_dim)
        if self.h_heads > 0:
            self.h_qkv = nn.Linear(dim, 3 * self.h_dim, bias=qkv_bias)
            self.h_proj = nn.Linear(self.h_dim, self.h_dim)

    def hifi(self, xp: torch.Tensor) -> torch.Tensor:
        """Window attention on the padded map ``(B, Hp, Wp, C)``."""
        B, Hp, Wp, _ = xp.shape
        win = window_partition(xp, self.ws)  # (B*nW, ws*ws, C)
        n = win.shape[1]
        hd = self.h_dim // self.h_heads
        qkv = self.h_qkv(win).reshape(-1, n, 3, self.h_heads, hd).permute(2, 0, 3, 1, 4)
        y = attention(*qkv.unbind(0), scale=self.scale)
        y = self.h_proj(y.transpose(1, 2).reshape(-1, n, self.h_dim))
        return window_reverse(y, self.ws, Hp, Wp)

    def lofi(self, x: torch.Tensor, xp: torch.Tensor) -> torch.Tensor:
        """Every position of ``x`` ``(B, H, W, C)`` attends to the pooled padded map ``xp``."""
        B, H, W, _ = x.shape
        hd = self.l_dim // self.l_heads
        q = self.l_q(x).reshape(B, H * W, self.l_heads, hd).transpose(1, 2)
        src = xp if self.ws == 1 else F.avg_pool2d(xp.permute(0, 3, 1, 2), self.ws).permute(0, 2, 3, 1)
        kv = self.l_kv(src.reshape(B, -1, src.shape[-1]))
        kv = kv.reshape(B, -1, 2, self.l_heads, hd).permute(2, 0, 3, 1, 4)
        y = attention(q, *kv.unbind(0), scale=self.scale)
        return self.l_proj(y.transpose(1, 2).reshape(B, H, W, self.l_dim))

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        B, N, C = x.shape
        H, W = hw
        x = x.view(B, H, W, C)
        xp = pad_to_multiple(x, self.ws)
        outs = []
        if self.h_heads > 0:
            outs.append(self.hifi(xp)[:, :H, :W])
        if self.l_heads > 0:
            outs.append(self.lofi(x, xp))
        return torch.cat(outs, dim=-1).reshape(B, N, C)


class LITBlock(nn.Module):
    """``norm1 -> HiLo -> residual`` (only when ``has_attn``), then ``norm2 -> conv-FFN -> residual``."""

    def __init__(self, dim, num_heads, has_attn: bool, local_ws: int, alpha: float, mlp_ratio=4.0,
                 qkv_bias=True, qk_scale=None, drop=0.0, drop_path=0.0, norm_layer=nn.LayerNorm):
        super().__init__()
        if has_attn:
            self.norm1 = norm_layer(dim)
            self.attn = HiLo(dim, num_heads, local_ws, alpha, qkv_bias, qk_scale)
        else:
            self.norm1 = self.attn = None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        if self.attn is not None:
            x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.mlp(self.norm2(x), hw))


class LITStage(nn.Module):
    def __init__(self, dim, out_dim, depth, num_heads, has_attn, local_ws, alpha, mlp_ratio, qkv_bias,
                 qk_scale, drop, drop_path: Sequence[float], with_cp: bool):
        super().__init__()
        self.with_cp = with_cp
        self.blocks = nn.ModuleList([
            LITBlock(dim, num_heads, has_attn, local_ws, alpha, mlp_ratio, qkv_bias, qk_scale, drop,
                     drop_path[i]) for i in range(depth)
        ])
        self.downsample = DTM(dim, out_dim) if out_dim else None

    def forward(self, x, hw):
        for blk in self.blocks:
            x = maybe_checkpoint(blk, x, hw, enabled=self.with_cp)
        if self.downsample is None:
            return x, hw, x, hw
        y, y_hw = self.downsample(x, hw)
        return x, hw, y, y_hw


@MODELS.register_module()
class LITv2(BaseBackbone):
    """LITv2 backbone.

    Args:
        arch: 'small' | 'medium' | 'base' (or 's'/'m'/'b') or a dict with ``embed_dims``, ``depths``,
            ``num_heads``.
        in_channels: input image channels.
        patch_size: stride of the patch embedding.
        mlp_ratio: hidden/embed ratio of the conv-FFNs.
        qkv_bias, qk_scale: of the HiLo projections.
        drop_rate: dropout in the conv-FFNs.
        drop_path_rate: stochastic depth, linearly increasing over all blocks.
        has_msa: per stage, 1 if its blocks have HiLo attention (official: MLP-only stages 1-2).
        local_ws: per stage, the HiLo window ``s`` (official 0-0-2-1; the "ws 4" detection models
            use 0-0-4-1; ignored for stages without attention).
        alpha: fraction of Lo-Fi heads (0.9 in all released models).
        patch_norm: LayerNorm after the patch embedding.
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: LayerNorm on the returned stages: a bool for all, or one bool per stage. The
            default follows the official detection code (no norm on stage 1, a norm on 2-4); its
            segmentation code normalises all four (``out_norm=True``).
        frozen_stages: -1 trains all; 0 freezes the patch embedding; k > 0 also the first k stages
            (with their DTM and output norms).
        with_cp: activation checkpointing in every block.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)``: the official ImageNet release or a
            detection/segmentation checkpoint, converted on load.
    """

    converter = 'convert_litv2_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'small': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
        'medium': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    }
    arch_zoo.update({'s': arch_zoo['small'], 'm': arch_zoo['medium'], 'b': arch_zoo['base']})

    def __init__(self, arch='small', in_channels=3, patch_size=4, mlp_ratio=4.0, qkv_bias=True, qk_scale=None,
                 drop_rate=0.0, drop_path_rate=0.2, has_msa=(0, 0, 1, 1), local_ws=(0, 0, 2, 1), alpha=0.9,
                 patch_norm=True, out_indices=(0, 1, 2, 3),
                 out_norm: Union[bool, Sequence[bool]] = (False, True, True, True), frozen_stages=-1,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'LITv2')
        self.embed_dims, depths, num_heads = cfg['embed_dims'], tuple(cfg['depths']), tuple(cfg['num_heads'])
        self.num_stages = len(depths)
        for name, val in (('num_heads', num_heads), ('has_msa', has_msa), ('local_ws', local_ws)):
            if len(val) != self.num_stages:
                raise ValueError(f'LITv2: {name}={tuple(val)} must have one entry per stage '
                                 f'({self.num_stages})')
        for i in range(self.num_stages):
            if has_msa[i] and local_ws[i] < 1:
                raise ValueError(f'LITv2: stage {i} has attention, so local_ws[{i}] must be >= 1 '
                                 f'(got {local_ws[i]}); local_ws={tuple(local_ws)}')
        if isinstance(out_norm, bool):
            out_norm = (out_norm, ) * self.num_stages
        if len(out_norm) != self.num_stages:
            raise ValueError(f'LITv2: out_norm must be a bool or one bool per stage, got {out_norm}')
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'LITv2')
        self.frozen_stages = frozen_stages
        self.num_features = [self.embed_dims * 2 ** i for i in range(self.num_stages)]

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, patch_size,
                                      norm_layer=nn.LayerNorm if patch_norm else None)
        dpr = drop_path_rates(drop_path_rate, depths)
        self.layers = nn.ModuleList([
            LITStage(self.num_features[i], self.num_features[i + 1] if i < self.num_stages - 1 else None,
                     depths[i], num_heads[i], bool(has_msa[i]), local_ws[i], alpha, mlp_ratio, qkv_bias,
                     qk_scale, drop_rate, dpr[i], with_cp) for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]) if out_norm[i] else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, ConvMlp):
                    init_conv_fan_out_(m.dwconv)
                elif isinstance(m, DeformConv2dPack):
                    m.reset_parameters()
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed)
        for i in range(1, self.frozen_stages + 1):
            freeze(self.layers[i - 1])
            freeze(getattr(self, f'norm{i - 1}', None))

    def forward(self, x: torch.Tensor):
        x, hw = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.layers):
            out, out_hw, x, hw = stage(x, hw)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                outs.append(out.view(-1, *out_hw, self.num_features[i]).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)


def convert_litv2_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official LITv2 checkpoint to this module's names.

    Understood layouts: the ImageNet release (``litv2_s.pth``, ...: final ``norm`` -> the last stage's
    output norm, ``head`` dropped) and the detection/segmentation releases (``backbone.`` prefix,
    stripped on load; output norms ``norm0..3``). The conv-FFN's ``mlp.dwconv.dwconv`` becomes
    ``mlp.dwconv``. (The official detection code leaves its last output norm at the initial values
    instead; we start from the classifier's final norm, as for the other families.)
    """
    out = {}
    for k, v in state_dict.items():
        if k.startswith('head.'):
            continue
        out[k.replace('.mlp.dwconv.dwconv.', '.mlp.dwconv.')] = v
    return rename_final_norm(out, 'layers')
