"""UniRepLKNet (Ding et al., CVPR 2024, arXiv 2311.15599), after the official AILab-CVC/UniRepLKNet
``unireplknet.py`` (classifier) and its dense copies ``detection/mmdet_custom/models/backbones/`` and
``segmentation/mmseg_custom/models/backbones/unireplknet.py``.

Stem: ``3x3/2 conv -> LN -> GELU -> 3x3/2 conv -> LN`` (half the first width inside); stages 1..3
open with ``3x3/2 conv -> LN`` (channels-first LayerNorms, eps 1e-6). Every block is

    y = SE(BN(DW(x)))                                  # DW: a k x k depth-wise conv
    y = BN(pwconv2(GRN(GELU(pwconv1(y)))))            # channels-last linear maps, ratio 4
    x = x + drop_path(gamma * y)

where ``DW`` is a plain depth-wise conv for k in {3, 5} and a *dilated re-parameterized block* for
k >= 7: the k x k depth-wise conv + BN in parallel with a few small dilated depth-wise convs + BN
(e.g. k = 13: 5x5 d1, 7x7 d2, 3x3 d3, 3x3 d4, 3x3 d5), summed. GRN is ConvNeXt V2's global response
norm, SE a squeeze-and-excitation with ReLU / sigmoid and a quarter of the channels inside.

Re-parameterization (``switch_to_deploy()``, the official ``reparameterize_unireplknet``): each
dilated branch and its BN become one zero-inserted kernel added to the large one, the block's BN
goes into that conv, GRN's bias, the second BN and ``gamma`` go into ``pwconv2`` (which gains a
bias). ``deploy=True`` builds that inference form directly (for deploy-form checkpoints). The
official code can use an iGEMM CUDA kernel for the large depth-wise convs; here they are plain
``nn.Conv2d`` with ``groups=channels`` (exact, CPU and GPU).

Dense form (the official mmdet/mmseg backbone): each returned stage through a channels-first
LayerNorm ``norm{i}``. The 3x3/2 convs (padding 1) give ``ceil(H / 2)`` at any size, so stage ``i``
is ``ceil(H / 2**(i+2))`` with no padding or cropping.

Names follow the official ones except inside the FFN, whose official ``nn.Sequential`` wrappers
(``pwconv1.1``, ``act.1``, ``pwconv2.0``, ``pwconv2.2``) are here ``pwconv1``, ``grn``,
``pwconv2``, ``norm2`` (``convert_unireplknet_checkpoint``).
"""
import re
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import trunc_normal_

from ..layers import DropPath, LayerNorm2d, drop_path_rates, maybe_checkpoint
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch

# kernel size of the large conv -> (kernel sizes, dilations) of its parallel dilated branches
# (official DilatedReparamBlock; the branches of 5 exist there too but 5 never builds this block)
DILATED_BRANCHES = {
    17: ((5, 9, 3, 3, 3), (1, 2, 4, 5, 7)),
    15: ((5, 7, 3, 3, 3), (1, 2, 3, 5, 7)),
    13: ((5, 7, 3, 3, 3), (1, 2, 3, 4, 5)),
    11: ((5, 5, 3, 3, 3), (1, 2, 3, 4, 5)),
    9: ((5, 5, 3, 3), (1, 2, 3, 4)),
    7: ((5, 3, 3), (1, 2, 3)),
}


def _fuse_bn(weight: torch.Tensor, bias: Optional[torch.Tensor], bn: nn.Module):
    """Kernel and bias of ``bn(conv(x))`` for a conv with ``weight`` (out channels first) and ``bias``."""
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    bias = bn.bias - bn.running_mean * scale if bias is None else bn.bias + (bias - bn.running_mean) * scale
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), bias


def _dilate_kernel(kernel: torch.Tensor, dilation: int) -> torch.Tensor:
    """The dense kernel ``(C, 1, d(k-1)+1, d(k-1)+1)`` equal to a ``k x k`` kernel with dilation ``d``."""
    c, g, k, _ = kernel.shape
    size = dilation * (k - 1) + 1
    out = kernel.new_zeros(c, g, size, size)
    out[:, :, ::dilation, ::dilation] = kernel
    return out


def _depthwise(channels: int, kernel_size: int, dilation: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, kernel_size, padding=dilation * (kernel_size - 1) // 2,
                     dilation=dilation, groups=channels, bias=bias)


class GRN(nn.Module):
    """Global response normalisation on channels-last ``(B, H, W, C)`` maps (ConvNeXt V2): each
    channel's spatial L2 norm, divided by the mean over channels, rescales the input. ``gamma`` and
    ``beta`` are ``(1, 1, 1, C)`` as in the official checkpoints; the deploy form has no ``beta``."""

    def __init__(self, dim: int, use_bias: bool = True):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim)) if use_bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        out = (self.gamma * nx + 1) * x
        return out if self.beta is None else out + self.beta


class SEBlock(nn.Module):
    """Squeeze-and-excitation on ``(B, C, H, W)``: average pool, 1x1 conv down, ReLU, 1x1 conv up,
    sigmoid, channel-wise product."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.down = nn.Conv2d(dim, hidden, 1)
        self.up = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.up(F.relu(self.down(s))))


class DilatedReparamBlock(nn.Module):
    """A ``k x k`` depth-wise conv + BN (``lk_origin``, ``origin_bn``) plus parallel dilated
    depth-wise convs + BN (``dil_conv_k{k}_{d}``, ``dil_bn_k{k}_{d}``), summed. ``switch_to_deploy``
    merges everything into ``lk_origin`` (with a bias); ``deploy=True`` builds only that conv."""

    def __init__(self, channels: int, kernel_size: int, deploy: bool = False, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        if kernel_size not in DILATED_BRANCHES:
            raise ValueError(f'DilatedReparamBlock: kernel_size must be one of {sorted(DILATED_BRANCHES)}, '
                             f'got {kernel_size}')
        self.kernel_size = kernel_size
        self.kernel_sizes, self.dilates = DILATED_BRANCHES[kernel_size]
        self.lk_origin = _depthwise(channels, kernel_size, bias=deploy)
        self.deploy = deploy
        if not deploy:
            self.origin_bn = build_norm_layer(norm_cfg, channels)[1]
            for k, d in zip(self.kernel_sizes, self.dilates):
                self.add_module(f'dil_conv_k{k}_{d}', _depthwise(channels, k, d))
                self.add_module(f'dil_bn_k{k}_{d}', build_norm_layer(norm_cfg, channels)[1])

    def _branches(self):
        for k, d in zip(self.kernel_sizes, self.dilates):
            yield d, getattr(self, f'dil_conv_k{k}_{d}'), getattr(self, f'dil_bn_k{k}_{d}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            return self.lk_origin(x)
        out = self.origin_bn(self.lk_origin(x))
        for _, conv, bn in self._branches():
            out = out + bn(conv(x))
        return out

    @torch.no_grad()
    def fused_kernel(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Kernel and bias of the single ``k x k`` depth-wise conv equal to this block (eval-mode BNs)."""
        if self.deploy:
            return self.lk_origin.weight, self.lk_origin.bias
        kernel, bias = _fuse_bn(self.lk_origin.weight, None, self.origin_bn)
        for d, conv, bn in self._branches():
            w, b = _fuse_bn(conv.weight, None, bn)
            w = _dilate_kernel(w, d)
            pad = (self.kernel_size - w.shape[-1]) // 2
            kernel = kernel + F.pad(w, [pad] * 4)
            bias = bias + b
        return kernel, bias

    @torch.no_grad()
    def switch_to_deploy(self):
        if self.deploy:
            return
        kernel, bias = self.fused_kernel()
        conv = _depthwise(kernel.shape[0], self.kernel_size, bias=True).to(kernel)
        conv.weight.copy_(kernel)
        conv.bias.copy_(bias)
        self.lk_origin = conv
        del self.origin_bn
        for k, d in zip(self.kernel_sizes, self.dilates):
            delattr(self, f'dil_conv_k{k}_{d}')
            delattr(self, f'dil_bn_k{k}_{d}')
        self.deploy = True


class UniRepLKNetBlock(nn.Module):
    """``x + drop_path(gamma * BN(pwconv2(GRN(GELU(pwconv1(SE(BN(DW(x)))))))))`` (see the module
    docstring); the deploy form has no BNs, no GRN bias and no ``gamma``."""

    def __init__(self, dim: int, kernel_size: int, drop_path: float = 0.0, layer_scale_init_value: float = 1e-6,
                 ffn_ratio: int = 4, deploy: bool = False, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        if kernel_size in (3, 5):
            self.dwconv = _depthwise(dim, kernel_size, bias=deploy)
        elif kernel_size in DILATED_BRANCHES:
            self.dwconv = DilatedReparamBlock(dim, kernel_size, deploy, norm_cfg)
        else:
            raise ValueError(f'UniRepLKNet: block kernel sizes must be 3, 5 or one of '
                             f'{sorted(DILATED_BRANCHES)}, got {kernel_size}')
        self.norm = nn.Identity() if deploy else build_norm_layer(norm_cfg, dim)[1]
        self.se = SEBlock(dim, dim // 4)
        hidden = int(ffn_ratio * dim)
        self.pwconv1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.grn = GRN(hidden, use_bias=not deploy)
        self.pwconv2 = nn.Linear(hidden, dim, bias=deploy)
        self.norm2 = nn.Identity() if deploy else build_norm_layer(norm_cfg, dim)[1]
        use_gamma = not deploy and layer_scale_init_value is not None and layer_scale_init_value > 0
        self.gamma = nn.Parameter(torch.full((dim, ), float(layer_scale_init_value))) if use_gamma else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.deploy = deploy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(self.norm(self.dwconv(x)))
        y = self.grn(self.act(self.pwconv1(y.permute(0, 2, 3, 1))))
        y = self.norm2(self.pwconv2(y).permute(0, 3, 1, 2))
        if self.gamma is not None:
            y = self.gamma.view(1, -1, 1, 1) * y
        return x + self.drop_path(y)

    @torch.no_grad()
    def switch_to_deploy(self):
        if self.deploy:
            return
        # depth-wise conv (+ dilated branches) and the BN after it -> one biased conv
        if isinstance(self.dwconv, DilatedReparamBlock):
            self.dwconv.switch_to_deploy()
            conv = self.dwconv.lk_origin
        else:
            conv = self.dwconv
        weight, bias = _fuse_bn(conv.weight, conv.bias, self.norm)
        new = _depthwise(conv.in_channels, conv.kernel_size[0], bias=True).to(weight)
        new.weight.copy_(weight)
        new.bias.copy_(bias)
        if isinstance(self.dwconv, DilatedReparamBlock):
            self.dwconv.lk_origin = new
        else:
            self.dwconv = new
        self.norm = nn.Identity()
        # GRN's bias, then BN, then gamma, all after pwconv2 (no bias): one biased linear map
        linear = self.pwconv2
        bias = linear.weight @ self.grn.beta.view(-1)
        weight, bias = _fuse_bn(linear.weight, bias, self.norm2)
        if self.gamma is not None:
            weight, bias = weight * self.gamma.view(-1, 1), bias * self.gamma
        new = nn.Linear(linear.in_features, linear.out_features).to(weight)
        new.weight.copy_(weight)
        new.bias.copy_(bias)
        self.pwconv2 = new
        self.norm2 = nn.Identity()
        self.grn.beta = None
        self.gamma = None
        self.deploy = True


def _default_kernel_sizes(depths: Sequence[int]) -> Tuple[Tuple[int, ...], ...]:
    """The official default per-block kernel sizes, chosen by the depths (as the official code does)."""
    depths = tuple(depths)
    table = {
        (2, 2, 6, 2): ((3, ) * 2, (13, ) * 2, (13, ) * 6, (13, ) * 2),
        (2, 2, 8, 2): ((3, ) * 2, (13, ) * 2, (13, ) * 8, (13, ) * 2),
        (3, 3, 18, 3): ((3, ) * 3, (13, ) * 3, (13, 3) * 9, (13, ) * 3),
        (3, 3, 27, 3): ((3, ) * 3, (13, ) * 3, (13, 3, 3) * 9, (13, ) * 3),
    }
    if depths not in table:
        raise ValueError(f'UniRepLKNet: no default kernel sizes for depths {depths} (defaults exist for '
                         f'{sorted(table)}); give kernel_sizes, one tuple per stage')
    return table[depths]


@MODELS.register_module()
class UniRepLKNet(BaseBackbone):
    """UniRepLKNet backbone.

    Args:
        arch: 'a' | 'f' | 'p' | 'n' | 't' | 's' | 'b' | 'l' | 'xl' (or 'atto', 'femto', 'pico',
            'nano', 'tiny', 'small', 'base', 'large', 'xlarge'), or a dict with ``depths`` and
            ``dims`` and optionally ``kernel_sizes`` (one tuple per stage, one size per block; the
            official default for the four official depth settings).
        in_channels: input image channels.
        drop_path_rate: stochastic depth, increasing linearly over all blocks.
        layer_scale_init_value: initial ``gamma`` (official 1e-6); 0 or None: no layer scale.
        deploy: build the re-parameterized inference form (see ``switch_to_deploy``).
        norm_cfg: the blocks' BatchNorms (the official dense configs use ``dict(type='SyncBN')``).
        out_indices: stages whose features are returned (strides 4, 8, 16, 32).
        out_norm: a channels-first LayerNorm (eps 1e-6) ``norm{i}`` on each returned stage, as the
            official dense backbone; False returns the raw stage outputs.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1 (with their
            downsampling layers and output norms). Frozen BatchNorms keep their running statistics.
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``: the official ImageNet release
            (training form; ``{'model': ...}`` or bare), the official dense checkpoints (``backbone.``
            keys) or our own; a deploy-form checkpoint needs ``deploy=True``.
    """

    converter = 'convert_unireplknet_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    _s_b_l_xl = (3, 3, 27, 3)
    arch_zoo = {
        'atto': dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320)),
        'femto': dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384)),
        'pico': dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512)),
        'nano': dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640)),
        'tiny': dict(depths=(3, 3, 18, 3), dims=(80, 160, 320, 640)),
        'small': dict(depths=_s_b_l_xl, dims=(96, 192, 384, 768)),
        'base': dict(depths=_s_b_l_xl, dims=(128, 256, 512, 1024)),
        'large': dict(depths=_s_b_l_xl, dims=(192, 384, 768, 1536)),
        'xlarge': dict(depths=_s_b_l_xl, dims=(256, 512, 1024, 2048)),
    }
    arch_zoo.update({'a': arch_zoo['atto'], 'f': arch_zoo['femto'], 'p': arch_zoo['pico'], 'n': arch_zoo['nano'],
                     't': arch_zoo['tiny'], 's': arch_zoo['small'], 'b': arch_zoo['base'], 'l': arch_zoo['large'],
                     'xl': arch_zoo['xlarge']})
    # official layer-wise lr decay (UniRepLKNetLearningRateDecayOptimizerConstructor): the id of
    # stage 3 and the last downsampling, its configs' ``num_layers`` (12 in every detection config)
    layer_decay_max_id = 12

    def __init__(self, arch='tiny', in_channels=3, drop_path_rate=0.0, layer_scale_init_value=1e-6, deploy=False,
                 norm_cfg=dict(type='BN'), out_indices=(0, 1, 2, 3), out_norm=True, frozen_stages=-1,
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'dims'), name)
        depths, dims = tuple(cfg['depths']), tuple(cfg['dims'])
        kernel_sizes = cfg.get('kernel_sizes') or _default_kernel_sizes(depths)
        kernel_sizes = tuple(tuple(k) for k in kernel_sizes)
        if not len(depths) == len(dims) == len(kernel_sizes) == 4:
            raise ValueError(f'{name}: depths {depths}, dims {dims} and kernel_sizes need four stages')
        if tuple(len(k) for k in kernel_sizes) != depths:
            raise ValueError(f'{name}: kernel_sizes {kernel_sizes} must give one size per block of depths {depths}')
        self.num_stages = 4
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(dims)
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.depths, self.kernel_sizes = depths, kernel_sizes
        self.deploy = deploy

        self.downsample_layers = nn.ModuleList([nn.Sequential(
            nn.Conv2d(in_channels, dims[0] // 2, 3, 2, 1), LayerNorm2d(dims[0] // 2, eps=1e-6), nn.GELU(),
            nn.Conv2d(dims[0] // 2, dims[0], 3, 2, 1), LayerNorm2d(dims[0], eps=1e-6))])
        for i in range(1, 4):
            self.downsample_layers.append(nn.Sequential(
                nn.Conv2d(dims[i - 1], dims[i], 3, 2, 1), LayerNorm2d(dims[i], eps=1e-6)))
        dpr = drop_path_rates(drop_path_rate, depths)
        self.stages = nn.ModuleList([
            nn.Sequential(*[
                UniRepLKNetBlock(dims[i], k, rate, layer_scale_init_value, deploy=deploy, norm_cfg=norm_cfg)
                for k, rate in zip(kernel_sizes[i], dpr[i])
            ]) for i in range(4)
        ])
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(dims[i], eps=1e-6) if out_norm else nn.Identity())
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official random init: truncated-normal convs / linears, zero biases
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    trunc_normal_(m.weight, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
            return
        super().init_weights()

    def switch_to_deploy(self):
        """Re-parameterize every block in place into the inference form (eval-mode BN statistics):
        fewer parameters, the same outputs up to fp32 rounding (official ``reparameterize_unireplknet``)."""
        for stage in self.stages:
            for block in stage:
                block.switch_to_deploy()
        self.deploy = True

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """``(layer id, number of layers)`` of the official layer-wise lr decay (for
        ``vitdense.LayerDecayOptimWrapperConstructor``): the stem and stage 0 -> 0 / 1, stage 1 and
        its downsampling 2, stage 2 ``3 + block // 3`` (its downsampling 3), stage 3 and its
        downsampling ``layer_decay_max_id``; everything else (output norms, neck, heads) one more."""
        top = self.layer_decay_max_id
        num_layers = top + 2
        name = param_name[len(prefix):] if param_name.startswith(prefix) else None
        m = re.match(r'(downsample_layers|stages)\.(\d+)\.(\d+)?', name or '')
        if m is None:
            return top + 1, num_layers
        stage = int(m.group(2))
        if m.group(1) == 'downsample_layers':
            return (0, 2, 3, top)[stage], num_layers
        return (1, 2, 3 + int(m.group(3)) // 3, top)[stage], num_layers

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.downsample_layers[0])
        for i in range(self.frozen_stages):
            freeze(self.downsample_layers[i])
            freeze(self.stages[i])
            freeze(getattr(self, f'norm{i}', None))

    def forward(self, x: torch.Tensor):
        outs = []
        for i in range(self.num_stages):
            x = self.downsample_layers[i](x)
            for block in self.stages[i]:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x))
        return tuple(outs)


# official FFN names (nn.Sequential wrappers around the linear maps) -> ours
_OFFICIAL_FFN = ((r'\.pwconv1\.1\.', '.pwconv1.'), (r'\.act\.1\.', '.grn.'), (r'\.pwconv2\.0\.', '.pwconv2.'),
                 (r'\.pwconv2\.2\.', '.norm2.'))


def convert_unireplknet_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a UniRepLKNet checkpoint's weights to this module's names.

    The official release (ImageNet classifiers, training form, and the dense ``backbone.*`` weights
    after ``strip_prefixes``; training or deploy form) differs from ours only inside the FFN:
    ``pwconv1.1`` -> ``pwconv1``, ``act.1`` (GRN) -> ``grn``, ``pwconv2.0`` -> ``pwconv2``,
    ``pwconv2.2`` (BN) -> ``norm2``. The classifier (``norm``: LayerNorm after pooling, ``head``) is
    dropped; the dense output norms ``norm0..3`` are kept. Our own checkpoints pass unchanged. No
    other library (timm, mmpretrain) implements UniRepLKNet, so there is no other layout to read.
    """
    out = {}
    for k, v in state_dict.items():
        if k.startswith(('head.', 'norm.')):
            continue
        if k.startswith('stages.'):
            for pattern, repl in _OFFICIAL_FFN:
                k = re.sub(pattern, repl, k)
        out[k] = v
    return out
