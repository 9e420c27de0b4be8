"""FastViT (Vasu et al., ICCV 2023, arXiv 2303.14189, "FastViT: A Fast Hybrid Vision Transformer
using Structural Reparameterization"), the dense-prediction form of the official apple/ml-fastvit
``models/fastvit.py`` (``fork_feat=True``).

A stem of three MobileOne blocks (3x3 stride 2, depth-wise 3x3 stride 2, 1x1; GELU), then four
stages at strides 4, 8, 16, 32. Stages 1-3 start with a patch embedding: a depth-wise-grouped 7x7
stride-2 conv with a parallel 3x3 branch (both with BatchNorm, no activation, as released) and a
1x1 MobileOne block. RepMixer stages mix tokens with ``x + s * (dwconv_bn(x) - bn(x))`` (the
MobileOne depth-wise 3x3 block ``mixer``, a BatchNorm ``norm``, layer scale ``s``); the SA / MA
variants instead run a conditional position encoding (``x + dw7x7(x)``) and attention blocks
(``x + s1 * mhsa(bn(x))``, 32-channel heads) in the last stage. Every block ends with the ConvFFN,
``x + s * fc2(gelu(fc1(bn(dw7x7(x)))))``.

Train-time branches fold away in ``switch_to_deploy()``: each MobileOne block (k x k, 1x1 and
BatchNorm identity branches) and the large-kernel conv become one biased conv, each RepMixer (its
skip connection included) one depth-wise 3x3 conv, each position encoding (its skip included) one
depth-wise 7x7 conv; ``deploy=True`` builds that form directly. The ConvFFN's conv+BN is kept as
is, as the official and timm code do.

Any input size: every stride-2 conv pads by ``k // 2``, so stage ``i`` has ``ceil(H / 2**(i+2))``
rows; attention is global, so nothing needs padding. ``out_norm`` adds the official dense code's
BatchNorm on each returned map (``norm{i}``). One deliberate difference: for SA / MA the official
``fork_feat`` picks ``network`` entries 0, 2, 4, 6, and entry 6 is the last stage's position
encoding, so its fourth map skips the attention blocks; ours (as timm's) is the last stage's output.

Parameter names are timm's (``stem.{0,1,2}``, ``stages.i.downsample.proj.{0,1}``,
``stages.i.pos_emb.pos_enc``, ``stages.i.blocks.j``; MobileOne ``conv_kxk.0`` / ``conv_scale`` /
``identity``, fused ``reparam_conv``). ``convert_fastvit_checkpoint`` maps the official release
(``patch_embed``, ``network.k``, ``rbr_conv`` ..., training or ``*_reparam`` form) and timm's
``fastvit_*`` (either form) to them.
"""
import bisect
import re
from typing import Dict, Optional

import torch
import torch.nn as nn
from torch.nn.init import trunc_normal_

from ..layers import Attention, DropPath, drop_path_rates, maybe_checkpoint
from ..layers.norm import batchnorms_to_eval
from ..layers.reparam import ConvBN, fuse_conv_bn, identity_kernel, pad_kernel
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


def _conv(src: nn.Conv2d, kernel: torch.Tensor, bias: torch.Tensor, like: nn.Module) -> nn.Conv2d:
    """A biased conv with ``src``'s geometry holding ``kernel`` / ``bias``, in ``like``'s mode."""
    conv = nn.Conv2d(src.in_channels, src.out_channels, src.kernel_size, src.stride, src.padding,
                     groups=src.groups, bias=True).to(kernel)
    with torch.no_grad():
        conv.weight.copy_(kernel)
        conv.bias.copy_(bias)
    conv.requires_grad_(src.weight.requires_grad)
    return conv.train(like.training)


def _drop(module: nn.Module, *names: str):
    """Remove fused branches (unregistered, so their checkpoint keys count as unexpected)."""
    for name in names:
        delattr(module, name)
        setattr(module, name, None)


class MobileOneBlock(nn.Module):
    """``act(sum(conv_kxk) + conv_scale(x) + identity(x))``: k x k conv+BN branches, a 1x1 conv+BN
    (``k > 1`` and ``use_scale``) and a BatchNorm alone (same shape in and out); or ``reparam_conv``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, use_act: bool = True, use_scale: bool = True, num_conv: int = 1):
        super().__init__()
        self.identity = nn.BatchNorm2d(in_channels) if in_channels == out_channels and stride == 1 else None
        pad = kernel_size // 2
        self.conv_kxk = nn.ModuleList([
            ConvBN(in_channels, out_channels, kernel_size, stride, pad, groups) for _ in range(num_conv)
        ]) if num_conv > 0 else None
        self.conv_scale = ConvBN(in_channels, out_channels, 1, stride, 0, groups) \
            if kernel_size > 1 and use_scale else None
        self.reparam_conv: Optional[nn.Conv2d] = None
        self.act = nn.GELU() if use_act else nn.Identity()
        self.shape = (in_channels, out_channels, kernel_size, stride, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.act(self.reparam_conv(x))
        out = 0
        if self.identity is not None:
            out = self.identity(x)
        if self.conv_scale is not None:
            out = out + self.conv_scale(x)
        for branch in self.conv_kxk or ():
            out = out + branch(x)
        return self.act(out)

    def fused_kernel(self):
        """Kernel and bias of the branch sum (eval-mode BatchNorm statistics)."""
        cin, cout, k, _, groups = self.shape
        like = next(self.parameters())
        kernel = like.new_zeros(cout, cin // groups, k, k)
        bias = like.new_zeros(cout)
        for branch in self.conv_kxk or ():
            kb, bb = branch.fused_kernel()
            kernel, bias = kernel + kb, bias + bb
        if self.conv_scale is not None:
            kb, bb = self.conv_scale.fused_kernel()
            kernel, bias = kernel + pad_kernel(kb, k), bias + bb
        if self.identity is not None:
            kb, bb = fuse_conv_bn(identity_kernel(cin, groups, k, like), None, self.identity)
            kernel, bias = kernel + kb, bias + bb
        return kernel, bias

    @torch.no_grad()
    def switch_to_deploy(self):
        if self.reparam_conv is not None:
            return
        cin, cout, k, stride, groups = self.shape
        src = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups)
        src.weight.requires_grad_(next(self.parameters()).requires_grad)
        self.reparam_conv = _conv(src, *self.fused_kernel(), like=self)
        _drop(self, 'identity', 'conv_kxk', 'conv_scale')


class LargeKernelConv(nn.Module):
    """``large_conv(x) + small_conv(x)`` (k x k and 3x3 conv+BN, same stride), or ``reparam_conv``.
    No activation: the official block computes one and discards it (timm's ``lkc_use_act=False``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int,
                 small_kernel: int = 3):
        super().__init__()
        self.large_conv = ConvBN(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups)
        self.small_conv = ConvBN(in_channels, out_channels, small_kernel, stride, small_kernel // 2, groups)
        self.reparam_conv: Optional[nn.Conv2d] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        return self.large_conv(x) + self.small_conv(x)

    @torch.no_grad()
    def switch_to_deploy(self):
        if self.reparam_conv is not None:
            return
        conv = self.large_conv.conv
        kernel, bias = self.large_conv.fused_kernel()
        ks, bs = self.small_conv.fused_kernel()
        self.reparam_conv = _conv(conv, kernel + pad_kernel(ks, conv.kernel_size[0]), bias + bs, like=self)
        _drop(self, 'large_conv', 'small_conv')


class PatchEmbed(nn.Module):
    """Downsampling between stages (official ``PatchEmbed``): 7x7 / 3x3 large-kernel conv at stride 2,
    grouped by input channel, then a 1x1 MobileOne block."""

    def __init__(self, in_channels: int, out_channels: int, patch_size: int = 7, stride: int = 2):
        super().__init__()
        self.proj = nn.Sequential(LargeKernelConv(in_channels, out_channels, patch_size, stride, in_channels),
                                  MobileOneBlock(out_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class LayerScale2d(nn.Module):
    """Per-channel scale ``gamma`` of shape ``(C, 1, 1)`` on NCHW maps (timm's ``LayerScale2d``)."""

    def __init__(self, dim: int, init_value: float):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim, 1, 1), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class RepMixer(nn.Module):
    """``x + gamma * (mixer(x) - norm(x))``: ``mixer`` a depth-wise MobileOne block without
    activation, ``norm`` its identity branch alone; fused: one depth-wise conv ``reparam_conv``."""

    def __init__(self, dim: int, kernel_size: int = 3, layer_scale_init_value: float = 1e-5):
        super().__init__()
        self.norm = MobileOneBlock(dim, dim, kernel_size, groups=dim, use_act=False, use_scale=False,
                                   num_conv=0)
        self.mixer = MobileOneBlock(dim, dim, kernel_size, groups=dim, use_act=False)
        self.layer_scale = LayerScale2d(dim, layer_scale_init_value)
        self.reparam_conv: Optional[nn.Conv2d] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        return x + self.layer_scale(self.mixer(x) - self.norm(x))

    @torch.no_grad()
    def switch_to_deploy(self):
        if self.reparam_conv is not None:
            return
        dim, _, k, _, _ = self.mixer.shape
        km, bm = self.mixer.fused_kernel()
        kn, bn = self.norm.fused_kernel()
        gamma = self.layer_scale.gamma
        kernel = identity_kernel(dim, dim, k, km) + gamma.unsqueeze(-1) * (km - kn)
        bias = gamma.flatten() * (bm - bn)
        src = nn.Conv2d(dim, dim, k, 1, k // 2, groups=dim)
        src.weight.requires_grad_(gamma.requires_grad)
        self.reparam_conv = _conv(src, kernel, bias, like=self)
        _drop(self, 'norm', 'mixer', 'layer_scale')


class RepCPE(nn.Module):
    """Conditional position encoding ``x + pos_enc(x)`` (depth-wise 7x7 conv with bias); fused:
    ``reparam_conv`` with the skip folded into its kernel."""

    def __init__(self, dim: int, kernel_size: int = 7):
        super().__init__()
        self.pos_enc = nn.Conv2d(dim, dim, kernel_size, 1, kernel_size // 2, groups=dim)
        self.reparam_conv: Optional[nn.Conv2d] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        return x + self.pos_enc(x)

    @torch.no_grad()
    def switch_to_deploy(self):
        if self.reparam_conv is not None:
            return
        w = self.pos_enc.weight
        kernel = w + identity_kernel(w.shape[0], w.shape[0], w.shape[-1], w)
        self.reparam_conv = _conv(self.pos_enc, kernel, self.pos_enc.bias, like=self)
        _drop(self, 'pos_enc')


class ConvFFN(nn.Module):
    """``fc2(drop(gelu(fc1(bn(dw7x7(x))))))`` (official ``ConvFFN``, timm ``ConvMlp``)."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.conv = ConvBN(dim, dim, 7, 1, 3, dim)
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(self.conv(x))))))


class RepMixerBlock(nn.Module):
    """``x = token_mixer(x); x + drop_path(gamma * mlp(x))`` (the mixer carries its own skip)."""

    def __init__(self, dim: int, mlp_ratio: float, drop_path: float, layer_scale_init_value: float,
                 kernel_size: int = 3, drop: float = 0.0):
        super().__init__()
        self.token_mixer = RepMixer(dim, kernel_size, layer_scale_init_value)
        self.mlp = ConvFFN(dim, int(dim * mlp_ratio), drop)
        self.layer_scale = LayerScale2d(dim, layer_scale_init_value)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.token_mixer(x)
        return x + self.drop_path(self.layer_scale(self.mlp(x)))


class AttentionBlock(nn.Module):
    """``x + gamma1 * mhsa(bn(x))``, then ``x + gamma2 * mlp(x)``; 32-channel heads, no qkv bias."""

    def __init__(self, dim: int, mlp_ratio: float, drop_path: float, layer_scale_init_value: float,
                 head_dim: int = 32, drop: float = 0.0):
        super().__init__()
        if dim % head_dim:
            raise ValueError(f'FastViT: attention width {dim} is not a multiple of head_dim={head_dim}')
        self.norm = nn.BatchNorm2d(dim)
        self.token_mixer = Attention(dim, dim // head_dim, qkv_bias=False, proj_drop=drop)
        self.mlp = ConvFFN(dim, int(dim * mlp_ratio), drop)
        self.layer_scale_1 = LayerScale2d(dim, layer_scale_init_value)
        self.layer_scale_2 = LayerScale2d(dim, layer_scale_init_value)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        y = self.token_mixer(self.norm(x).flatten(2).transpose(1, 2)).transpose(1, 2).reshape(B, C, H, W)
        x = x + self.drop_path(self.layer_scale_1(y))
        return x + self.drop_path(self.layer_scale_2(self.mlp(x)))


class FastViTStage(nn.Module):
    """``downsample`` (stages 1..) -> ``pos_emb`` (attention stages) -> ``blocks``."""

    def __init__(self, in_dim: int, dim: int, depth: int, mixer: str, mlp_ratio: float, dpr, ls_init: float,
                 downsample: bool, drop: float = 0.0):
        super().__init__()
        self.downsample = PatchEmbed(in_dim, dim) if downsample else None
        self.pos_emb = RepCPE(dim) if mixer == 'attention' else None
        block = RepMixerBlock if mixer == 'repmixer' else AttentionBlock
        self.blocks = nn.Sequential(*[block(dim, mlp_ratio, rate, ls_init, drop=drop) for rate in dpr])


def _arch(depths, dims, mlp_ratio, attention=False, ls=1e-5):
    mixers = ('repmixer',) * 3 + ('attention' if attention else 'repmixer',)
    return dict(depths=depths, dims=dims, mlp_ratios=(mlp_ratio,) * 4, token_mixers=mixers,
                layer_scale_init_value=ls)


_S = (64, 128, 256, 512)


@MODELS.register_module()
class FastViT(BaseBackbone):
    """FastViT backbone.

    Args:
        arch: 't8', 't12', 's12', 'sa12', 'sa24', 'sa36' or 'ma36' (the official ``fastvit_*``), or a
            dict with ``depths``, ``dims``, ``mlp_ratios``, ``token_mixers`` (each 'repmixer' or
            'attention') and optionally ``layer_scale_init_value`` (1e-5; 1e-6 for SA36 / MA36).
        in_channels: input image channels.
        drop_rate: dropout in the ConvFFN and after the attention projection (official 0).
        drop_path_rate: stochastic depth, increasing linearly over all blocks.
        out_indices: stages whose outputs are returned (strides 4, 8, 16, 32).
        out_norm: a BatchNorm on each returned map (``norm{i}``), as the official dense backbone
            has; False returns the raw stage outputs (timm's ``forward_intermediates``).
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (with their
            downsampling layers and output norms).
        norm_eval: keep every BatchNorm in eval mode while training (running statistics fixed).
        deploy: build the fused form directly; ``switch_to_deploy()`` turns a trained model into it.
        with_cp: activation checkpointing per block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``: an official ``fastvit_*.pth.tar``
            (unfused, or ``*_reparam.pth.tar`` with ``deploy=True``), a timm ``fastvit_*``
            checkpoint (either form), or our own.
    """

    converter = 'convert_fastvit_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        't8': _arch((2, 2, 4, 2), (48, 96, 192, 384), 3),
        't12': _arch((2, 2, 6, 2), _S, 3),
        's12': _arch((2, 2, 6, 2), _S, 4),
        'sa12': _arch((2, 2, 6, 2), _S, 4, attention=True),
        'sa24': _arch((4, 4, 12, 4), _S, 4, attention=True),
        'sa36': _arch((6, 6, 18, 6), _S, 4, attention=True, ls=1e-6),
        'ma36': _arch((6, 6, 18, 6), (76, 152, 304, 608), 4, attention=True, ls=1e-6),
    }

    def __init__(self, arch='t8', in_channels=3, drop_rate=0.0, drop_path_rate=0.0,
                 out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1, norm_eval=False, deploy=False,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'dims', 'mlp_ratios', 'token_mixers'), name)
        depths, dims = tuple(cfg['depths']), tuple(cfg['dims'])
        mixers, ratios = tuple(cfg['token_mixers']), tuple(cfg['mlp_ratios'])
        if not len(depths) == len(dims) == len(mixers) == len(ratios):
            raise ValueError(f'{name}: depths, dims, mlp_ratios and token_mixers need one entry per stage')
        bad = set(mixers) - {'repmixer', 'attention'}
        if bad:
            raise ValueError(f'{name}: unknown token mixer(s) {sorted(bad)}; choose repmixer or attention')
        ls_init = float(cfg.get('layer_scale_init_value', 1e-5))
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(dims)
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp
        self.deploy = False

        self.stem = nn.Sequential(MobileOneBlock(in_channels, dims[0], 3, stride=2),
                                  MobileOneBlock(dims[0], dims[0], 3, stride=2, groups=dims[0]),
                                  MobileOneBlock(dims[0], dims[0], 1))
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            FastViTStage(dims[max(i - 1, 0)], dims[i], depths[i], mixers[i], ratios[i], dpr[i], ls_init,
                         downsample=i > 0, drop=drop_rate)
            for i in range(self.num_stages)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.BatchNorm2d(dims[i]) if out_norm else nn.Identity())
        if deploy:
            self.switch_to_deploy()
        self._freeze_stages()

    def switch_to_deploy(self):
        """Fold every train-time branch (MobileOne blocks, large-kernel convs, RepMixers, position
        encodings) into one conv, in place (equal outputs in eval mode)."""
        def fuse(module):
            for child in module.children():
                if hasattr(child, 'switch_to_deploy'):
                    child.switch_to_deploy()
                else:
                    fuse(child)
        fuse(self)
        self.deploy = True

    def init_weights(self):
        if self.init_cfg is None:  # the official random init (training from scratch, tests)
            for m in self.modules():
                convs = [m] if isinstance(m, nn.Linear) else []
                if isinstance(m, ConvFFN):  # the official ConvFFN._init_weights
                    convs = [m.conv.conv, m.fc1, m.fc2]
                for c in convs:
                    trunc_normal_(c.weight, std=0.02)
                    if c.bias is not None:
                        nn.init.zeros_(c.bias)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.stem)
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(self.stages[i])
            freeze(getattr(self, f'norm{i}', None))

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            batchnorms_to_eval(self)
        return self

    def load_pretrained(self, checkpoint, prefix=None, map_location='cpu'):
        result = super().load_pretrained(checkpoint, prefix=prefix, map_location=map_location)
        return self._refuse_other_form(checkpoint, result, train_key='stem.0.conv_kxk.0.conv.weight',
                                       fused_key='stem.0.reparam_conv.weight')

    def forward(self, x: torch.Tensor):
        for block in self.stem:
            x = maybe_checkpoint(block, x, enabled=self.with_cp)
        outs = []
        for i, stage in enumerate(self.stages):
            if stage.downsample is not None:
                x = maybe_checkpoint(stage.downsample, x, enabled=self.with_cp)
            if stage.pos_emb is not None:
                x = stage.pos_emb(x)
            for block in stage.blocks:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)


# official name -> ours, applied in order to the key after the network.k prefix is resolved
_RENAMES = [
    ('rbr_conv', 'conv_kxk'), ('rbr_scale', 'conv_scale'), ('rbr_skip', 'identity'),
    ('lkb_origin', 'large_conv'), ('lkb_reparam', 'reparam_conv'), ('convffn', 'mlp'),
]


def _official_key(key: str, stage_ends) -> Optional[str]:
    key = re.sub(r'^patch_embed\.', 'stem.', key)
    m = re.match(r'^network\.(\d+)\.(.*)$', key)
    if m:
        net, rest = int(m[1]), m[2]
        stage = bisect.bisect_right(stage_ends, net)
        if rest.startswith('proj.'):
            key = f'stages.{stage}.downsample.{rest}'
        elif not re.match(r'^\d+\.', rest):  # the stage's position encoding (RepCPE)
            key = f'stages.{stage}.pos_emb.' + ('pos_enc.' + rest[3:] if rest.startswith('pe.') else rest)
        else:
            key = f'stages.{stage}.blocks.{rest}'
    for old, new in _RENAMES:
        key = key.replace(old, new)
    key = re.sub(r'layer_scale(_[12])?$', r'layer_scale\1.gamma', key)
    return key


def convert_fastvit_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a FastViT checkpoint to this module's names: the official release (``patch_embed``,
    ``network.k`` with ``rbr_conv`` / ``rbr_scale`` / ``rbr_skip``, ``lkb_origin``, ``convffn``,
    ``pe``, bare ``layer_scale`` tensors, dense ``norm{0,2,4,6}``; training or ``*_reparam`` form)
    and timm's ``fastvit_*`` (``stem`` / ``stages.i.{downsample,pos_emb,blocks}``, ``norm{0..3}``).
    The classifier (``conv_exp`` / ``final_conv``, ``head``, ``dist_head``) is dropped; our own
    format passes unchanged."""
    official = any(k.startswith(('network.', 'patch_embed.')) for k in state_dict)
    # network entries holding a downsampling PatchEmbed end a stage (as timm's checkpoint_filter_fn)
    matches = (re.match(r'^network\.(\d+)\.proj\.', k) for k in state_dict)
    stage_ends = sorted({int(m[1]) for m in matches if m})
    out = {}
    for key, value in state_dict.items():
        if key.startswith(('head.', 'head_dist.', 'dist_head.', 'conv_exp.', 'final_conv.', 'fc.')):
            continue
        if official:
            m = re.match(r'^norm(\d+)\.(.*)$', key)
            if m:  # official dense norms sit after network entries 0, 2, 4, 6
                key = f'norm{int(m[1]) // 2}.{m[2]}'
            else:
                key = _official_key(key, stage_ends)
        out[key] = value
    return out
