"""MobileViT v1 (Mehta and Rastegari, ICLR 2022, arXiv 2110.02178, "MobileViT: Light-weight,
General-purpose, and Mobile-friendly Vision Transformer"), the dense-prediction form of the official
apple/ml-cvnets ``cvnets/models/classification/mobilevit.py`` (variants XXS / XS / S).

The network: a stride-2 ``3x3`` conv stem (16 channels), one MobileNetV2 inverted residual
(official ``layer_1``, stride 1, so still at stride 2), then four stages at strides 4, 8, 16, 32:
``layer_2`` is three inverted residuals (the first at stride 2); ``layer_3`` .. ``layer_5`` are one
stride-2 inverted residual followed by one MobileViT block. A MobileViT block is ``3x3 conv-BN-SiLU
-> 1x1 conv`` (local representation, to the transformer width), an unfold of the map into ``2x2``
patches, a stack of pre-norm transformer layers (4 heads, SiLU MLP) where each of the 4 pixel
positions of a patch attends over the same position of every patch, a LayerNorm, the fold back,
``1x1 conv-BN-SiLU`` back to the stage width and a ``3x3 conv-BN-SiLU`` fusion of ``cat(input,
output)``. The classifier's final ``1x1`` expansion (``conv_1x1_exp``, 4x channels) is not part of
the dense backbone, as in the official detection and segmentation models; ``final_conv=True`` adds
it after the last stage (the classification form, 320 / 384 / 640 channels).

Dense outputs: stages 0-3 at strides 4, 8, 16, 32 (``out_indices``). The stride-2 part (the stem
and ``layer_1``, 16 / 32 / 32 channels) is not exposed as an output; ``frozen_stages=0`` freezes it.

Any input size: the official code (and timm, mmpretrain) needs every MobileViT block's map to be
divisible by the patch size and otherwise *resizes* it bilinearly to the next multiple and back. Here
the map after the local representation is zero-padded at the bottom/right to a multiple of the
patch size, the padded pixels are masked out as attention keys (so the real pixels attend over the
real pixels only, and the padding has no effect on them), and the folded map is cropped back before
``conv_proj``. Every stride-2 conv pads by 1, so output ``i`` has ``ceil(H / stride_i)`` rows. Where no
padding is needed, i.e. when H and W are multiples of 64 (the stride-32 map divisible by the 2x2
patch), the result equals the official code, timm and mmpretrain exactly. At multiples of 32 that
are not multiples of 64 (96, 160, 224, ...) the stages up to stride 16 still equal them and only the
stride-32 stage pads; at other sizes the first padded stage and those after it deliberately differ
from their resize (the stride-4 stage never pads).

One official detail is not copied: the official ``LayerNorm`` treats the ``(B * 4, N, C)`` patch
tensor as channel-first when the number of patches ``N`` equals the width ``C`` and normalizes over
the patches then (e.g. XXS stage 1, width 64, at a 128x128 input); timm, mmpretrain and ours always
normalize over the channels.

Parameter names follow timm: ``stem.{conv,bn}``, ``stem_block``, ``stages.i.j`` with inverted
residuals ``conv1_1x1`` / ``conv2_kxk`` / ``conv3_1x1`` and MobileViT blocks ``conv_kxk``,
``conv_1x1``, ``transformer.k.{norm1,attn.{qkv,proj},norm2,mlp.{fc1,fc2}}``, ``norm``,
``conv_proj``, ``conv_fusion``; ``final_conv``. ``convert_mobilevit_checkpoint`` maps the official
(``conv_1``, ``layer_1`` .. ``layer_5``, ``conv_1x1_exp``), timm (``mobilevit_*``) and mmpretrain
(``MobileViT``) layouts.
"""
import re
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import Attention, DropPath, Mlp, drop_path_rates, maybe_checkpoint
from ..layers.reparam import ConvBN
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class ConvBNAct(ConvBN):
    """``conv (no bias) -> BatchNorm -> SiLU`` (``conv``, ``bn``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
                 act: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups)
        if act:
            self.act = nn.SiLU(inplace=True)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: ``1x1 expand -> 3x3 depthwise (stride) -> 1x1 project``, BN after each, SiLU
    after the first two; residual where the shape is kept."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: float):
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.conv1_1x1 = ConvBNAct(in_channels, hidden, 1)
        self.conv2_kxk = ConvBNAct(hidden, hidden, 3, stride, groups=hidden)
        self.conv3_1x1 = ConvBNAct(hidden, out_channels, 1, act=False)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3_1x1(self.conv2_kxk(self.conv1_1x1(x)))
        return x + y if self.use_residual else y


class TransformerLayer(nn.Module):
    """Pre-norm transformer layer: ``x + attn(norm1(x))``, ``x + mlp(norm2(x))`` (SiLU MLP)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, drop: float = 0.0, attn_drop: float = 0.0,
                 drop_path: float = 0.0):
        super().__init__()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias=True, attn_drop=attn_drop, proj_drop=drop)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, mlp_dim, act_layer=nn.SiLU, drop=drop)

    def forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), bias))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def _unfold(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B * ph * pw, N, C)``: one sequence per pixel position of a patch, over
    the ``N = (H / ph) * (W / pw)`` patches (the official order: position-major, then patch rows)."""
    B, C, H, W = x.shape
    x = x.reshape(B, C, H // ph, ph, W // pw, pw).permute(0, 3, 5, 2, 4, 1)
    return x.reshape(B * ph * pw, (H // ph) * (W // pw), C)


def _fold(x: torch.Tensor, B: int, H: int, W: int, ph: int, pw: int) -> torch.Tensor:
    C = x.shape[-1]
    x = x.reshape(B, ph, pw, H // ph, W // pw, C).permute(0, 5, 3, 1, 4, 2)
    return x.reshape(B, C, H, W)


class MobileViTBlock(nn.Module):
    """Local ``3x3`` conv + ``1x1`` projection, unfold into patches, transformer layers, LayerNorm,
    fold, ``1x1`` projection back and ``3x3`` fusion with the block input (see the module docstring
    for the padding rule at sizes that do not divide by the patch)."""

    def __init__(self, channels: int, transformer_dim: int, mlp_dim: int, depth: int, num_heads: int = 4,
                 patch_size: int = 2, drop: float = 0.0, attn_drop: float = 0.0, drop_path=None):
        super().__init__()
        drop_path = [0.0] * depth if drop_path is None else list(drop_path)
        self.conv_kxk = ConvBNAct(channels, channels, 3)
        self.conv_1x1 = nn.Conv2d(channels, transformer_dim, 1, bias=False)
        self.transformer = nn.ModuleList(
            TransformerLayer(transformer_dim, num_heads, mlp_dim, drop, attn_drop, drop_path[k]) for k in range(depth))
        self.norm = nn.LayerNorm(transformer_dim)
        self.conv_proj = ConvBNAct(transformer_dim, channels, 1)
        self.conv_fusion = ConvBNAct(2 * channels, channels, 3)
        self.patch_size = (patch_size, patch_size)

    def _key_bias(self, H: int, W: int, x: torch.Tensor) -> Optional[torch.Tensor]:
        """``(ph * pw, 1, 1, N)`` additive bias hiding padded pixels as keys, or None without padding."""
        ph, pw = self.patch_size
        Hp, Wp = H + (-H) % ph, W + (-W) % pw
        if (Hp, Wp) == (H, W):
            return None
        real = torch.zeros(1, 1, Hp, Wp, device=x.device, dtype=x.dtype)
        real[..., :H, :W] = 1
        real = _unfold(real, ph, pw)[..., 0]  # (ph * pw, N)
        # finite (half the dtype's minimum) so that a position with no real pixel at all, whose
        # queries are all padding and cropped later, averages instead of giving NaN
        bias = (1 - real) * (torch.finfo(x.dtype).min / 2)
        return bias[:, None, None, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        y = self.conv_1x1(self.conv_kxk(x))
        B, _, H, W = y.shape
        ph, pw = self.patch_size
        bias = self._key_bias(H, W, y)
        if bias is not None:
            y = F.pad(y, (0, (-W) % pw, 0, (-H) % ph))
        Hp, Wp = y.shape[-2:]
        tokens = _unfold(y, ph, pw)
        for layer in self.transformer:
            tokens = layer(tokens, bias)
        y = _fold(self.norm(tokens), B, Hp, Wp, ph, pw)[..., :H, :W]
        y = self.conv_proj(y)
        return self.conv_fusion(torch.cat((shortcut, y), dim=1))


def _arch(widths, transformer_dims, expand_ratio, stem_block_channels):
    return dict(widths=widths, transformer_dims=transformer_dims, expand_ratio=expand_ratio,
                stem_block_channels=stem_block_channels)


@MODELS.register_module()
class MobileViT(BaseBackbone):
    """MobileViT (v1) backbone.

    Args:
        arch: 'xxs', 'xs' or 's' (aliases 'xx_small', 'x_small', 'small', the official and
            mmpretrain names), or a dict with ``widths`` (4 stage widths), ``transformer_dims`` (3,
            for stages 1-3; the MLP width is twice it), ``expand_ratio`` and ``stem_block_channels``;
            optional ``depths`` (transformer layers of stages 1-3, default (2, 4, 3)),
            ``stem_channels`` (16), ``num_heads`` (4), ``patch_size`` (2), ``stage0_blocks`` (3).
        in_channels: input image channels.
        drop_rate: dropout after attention and MLP (official classification training: 0.1).
        attn_drop_rate: dropout on the attention weights (official: 0.1 in the code's default, 0.0 in
            its ImageNet recipe).
        drop_path_rate: stochastic depth on the transformer layers, increasing linearly over them
            (timm's option; 0, the official setting).
        final_conv: add the classifier's ``1x1`` expansion (4x channels, BN, SiLU) after the last
            stage, as the classification model has it (mmpretrain's ``out_indices=(4, )`` output).
        out_indices: stages whose outputs are returned (strides 4, 8, 16, 32).
        frozen_stages: -1 trains all; 0 freezes the stride-2 part (stem conv and ``layer_1``);
            k > 0 also stages 0..k-1.
        with_cp: activation checkpointing per block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``: an official ml-cvnets
            ``mobilevit_*.pt``, a timm ``mobilevit_*`` or mmpretrain ``MobileViT`` checkpoint, or ours.
    """

    converter = 'convert_mobilevit_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'xxs': _arch((24, 48, 64, 80), (64, 80, 96), 2, 16),
        'xs': _arch((48, 64, 80, 96), (96, 120, 144), 4, 32),
        's': _arch((64, 96, 128, 160), (144, 192, 240), 4, 32),
        'xx_small': _arch((24, 48, 64, 80), (64, 80, 96), 2, 16),
        'x_small': _arch((48, 64, 80, 96), (96, 120, 144), 4, 32),
        'small': _arch((64, 96, 128, 160), (144, 192, 240), 4, 32),
    }

    def __init__(self, arch='s', in_channels=3, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0, final_conv=False,
                 out_indices=(0, 1, 2, 3), frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo,
                           ('widths', 'transformer_dims', 'expand_ratio', 'stem_block_channels'), name)
        widths, dims = tuple(cfg['widths']), tuple(cfg['transformer_dims'])
        depths = tuple(cfg.get('depths', (2, 4, 3)))
        if len(widths) != 4 or len(dims) != 3 or len(depths) != 3:
            raise ValueError(f'{name}: widths needs 4 entries, transformer_dims and depths 3; got '
                             f'{widths}, {dims}, {depths}')
        expand, heads = cfg['expand_ratio'], int(cfg.get('num_heads', 4))
        self.num_stages = 4
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.frozen_stages, self.with_cp = frozen_stages, with_cp
        self.num_features = list(widths)

        stem_channels = int(cfg.get('stem_channels', 16))
        self.stem = ConvBNAct(in_channels, stem_channels, 3, stride=2)
        channels = int(cfg['stem_block_channels'])
        self.stem_block = InvertedResidual(stem_channels, channels, 1, expand)
        stage0 = []
        for j in range(int(cfg.get('stage0_blocks', 3))):
            stage0.append(InvertedResidual(channels, widths[0], 2 if j == 0 else 1, expand))
            channels = widths[0]
        stages = [nn.Sequential(*stage0)]
        dpr = drop_path_rates(drop_path_rate, depths)
        for width, dim, depth, rates in zip(widths[1:], dims, depths, dpr):
            stages.append(nn.Sequential(
                InvertedResidual(channels, width, 2, expand),
                MobileViTBlock(width, dim, 2 * dim, depth, heads, int(cfg.get('patch_size', 2)), drop_rate,
                               attn_drop_rate, rates)))
            channels = width
        self.stages = nn.ModuleList(stages)
        self.final_conv = ConvBNAct(channels, 4 * channels, 1) if final_conv else None
        if final_conv:
            self.num_features[-1] = 4 * channels
        self._freeze_stages()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.stem)
            freeze(self.stem_block)
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(self.stages[i])
        if self.frozen_stages >= self.num_stages:
            freeze(self.final_conv)

    def forward(self, x: torch.Tensor):
        x = maybe_checkpoint(self.stem, x, enabled=self.with_cp)
        x = maybe_checkpoint(self.stem_block, x, enabled=self.with_cp)
        outs = []
        for i, stage in enumerate(self.stages):
            for block in stage:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i == self.num_stages - 1 and self.final_conv is not None:
                x = maybe_checkpoint(self.final_conv, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


# Official ml-cvnets names inside one layer (ConvLayer2d wraps conv/norm in ``block``).
_OFFICIAL_RULES = [
    (r'block\.exp_1x1\.block\.(conv|norm)\.', r'conv1_1x1.\1.'),
    (r'block\.conv_3x3\.block\.(conv|norm)\.', r'conv2_kxk.\1.'),
    (r'block\.red_1x1\.block\.(conv|norm)\.', r'conv3_1x1.\1.'),
    (r'local_rep\.conv_3x3\.block\.(conv|norm)\.', r'conv_kxk.\1.'),
    (r'local_rep\.conv_1x1\.block\.conv\.', 'conv_1x1.'),
    (r'global_rep\.(\d+)\.pre_norm_mha\.0\.', r'transformer.\1.norm1.'),
    (r'global_rep\.(\d+)\.pre_norm_mha\.1\.qkv_proj\.', r'transformer.\1.attn.qkv.'),
    (r'global_rep\.(\d+)\.pre_norm_mha\.1\.out_proj\.', r'transformer.\1.attn.proj.'),
    (r'global_rep\.(\d+)\.pre_norm_ffn\.0\.', r'transformer.\1.norm2.'),
    (r'global_rep\.(\d+)\.pre_norm_ffn\.1\.', r'transformer.\1.mlp.fc1.'),
    (r'global_rep\.(\d+)\.pre_norm_ffn\.4\.', r'transformer.\1.mlp.fc2.'),
    (r'conv_proj\.block\.(conv|norm)\.', r'conv_proj.\1.'),
    (r'fusion\.block\.(conv|norm)\.', r'conv_fusion.\1.'),
    (r'^block\.(conv|norm)\.', r'\1.'),
]
# mmpretrain names inside one layer (mmpretrain InvertedResidual / MobileVitBlock).
_MMPRETRAIN_RULES = [
    (r'^conv\.0\.', 'conv1_1x1.'), (r'^conv\.1\.', 'conv2_kxk.'), (r'^conv\.2\.', 'conv3_1x1.'),
    (r'^local_rep\.0\.', 'conv_kxk.'), (r'^local_rep\.1\.conv\.', 'conv_1x1.'),
    (r'^global_rep\.(\d+)\.ln1\.', r'transformer.\1.norm1.'),
    (r'^global_rep\.(\d+)\.ln2\.', r'transformer.\1.norm2.'),
    (r'^global_rep\.(\d+)\.attn\.', r'transformer.\1.attn.'),
    (r'^global_rep\.(\d+)\.ffn\.layers\.0\.0\.', r'transformer.\1.mlp.fc1.'),
    (r'^global_rep\.(\d+)\.ffn\.layers\.1\.', r'transformer.\1.mlp.fc2.'),
]


def _layer(stage: int, rest: str) -> str:
    """Our prefix for a key of the official/timm/mmpretrain layer ``stage`` (0 = ``layer_1``)."""
    if stage == 0:
        return 'stem_block.' + re.sub(r'^0\.', '', rest)
    return f'stages.{stage - 1}.{rest}'


def _rename(rest: str, last_norm: Optional[int], rules) -> str:
    """One layer's key suffix: the last ``global_rep`` entry (index ``last_norm``) is the final
    LayerNorm ``norm``; the rest goes through the (pattern, replacement) ``rules`` in order."""
    g = re.match(r'^global_rep\.(\d+)\.(weight|bias)$', rest)
    if g and int(g[1]) == last_norm:
        return f'norm.{g[2]}'
    for pattern, repl in rules:
        rest = re.sub(pattern, repl, rest)
    return rest


def convert_mobilevit_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a MobileViT v1 checkpoint to this module's names: the official ml-cvnets (``conv_1``,
    ``layer_1`` .. ``layer_5``, ``conv_1x1_exp``; ``block.{conv,norm}``, ``local_rep``,
    ``global_rep.k.pre_norm_{mha,ffn}``, ``fusion``), timm (``stem``, ``stages.0`` .. ``stages.4``,
    ``final_conv``) and mmpretrain (``stem``, ``layers.0`` .. ``layers.4``, ``conv_1x1_exp``;
    ``conv.0/1/2``, ``global_rep.k.{ln1,attn,ln2,ffn}``, the last ``global_rep`` entry the norm).
    The classifiers (``classifier``, ``head``) are dropped; our own format passes unchanged
    (``final_conv`` keys load into a model built with ``final_conv=True``)."""
    keys = list(state_dict)
    official = any(k.startswith(('conv_1.', 'layer_1.')) for k in keys)
    timm = any(k.startswith('stages.4.') for k in keys)
    mmpre = any(k.startswith('layers.') for k in keys)
    # index of the last global_rep entry (the final LayerNorm) per official / mmpretrain layer
    last_norm = {}
    for k in keys:
        m = re.match(r'^(layer_\d|layers\.\d)\.(\d)\.global_rep\.(\d+)\.', k)
        if m:
            last_norm[m[1]] = max(last_norm.get(m[1], 0), int(m[3]))
    out = {}
    for key, value in state_dict.items():
        if key.startswith(('classifier.', 'head.', 'fc.')):
            continue
        if official:
            m = re.match(r'^(conv_1|conv_1x1_exp)\.block\.(conv|norm)\.(.*)$', key)
            if m:
                prefix = 'stem' if m[1] == 'conv_1' else 'final_conv'
                out[f'{prefix}.{"conv" if m[2] == "conv" else "bn"}.{m[3]}'] = value
                continue
            m = re.match(r'^layer_(\d)\.(\d+)\.(.*)$', key)
            if m:
                rest = _rename(m[3], last_norm.get(f'layer_{m[1]}'), _OFFICIAL_RULES)
                rest = re.sub(r'\.norm\.', '.bn.', rest) if not rest.startswith('norm.') else rest
                out[_layer(int(m[1]) - 1, f'{m[2]}.{rest}')] = value
                continue
        elif timm:
            m = re.match(r'^stages\.(\d)\.(.*)$', key)
            if m:
                out[_layer(int(m[1]), m[2])] = value
                continue
        elif mmpre:
            if key.startswith('conv_1x1_exp.'):
                out['final_conv.' + key[len('conv_1x1_exp.'):]] = value
                continue
            m = re.match(r'^layers\.(\d)\.(\d+)\.(.*)$', key)
            if m:
                rest = _rename(m[3], last_norm.get(f'layers.{m[1]}'), _MMPRETRAIN_RULES)
                out[_layer(int(m[1]), f'{m[2]}.{rest}')] = value
                continue
        out[key] = value
    return out
