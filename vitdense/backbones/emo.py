"""EMO (Zhang et al., ICCV 2023, "Rethinking Mobile Block for Efficient Attention-based Models"),
after the official zhangzjn/EMO ``model/emo.py`` (classifier) and its dense copies
``down-stream-tasks/mmdetection/mmdet/models/backbones/emo.py`` / ``.../mmseg/models/backbones/emo.py``
(same network, returning the stage outputs).

The network is built from one block, the inverted residual mobile block (iRMB):

    n = norm(x)                                   # BatchNorm in stages 1-2, channels-first LN in 3-4
    h = v(attention(n))  or  v(n)                 # v: 1x1 conv -> act (expansion to dim * exp_ratio)
    h = h + SE(DW_kxk(h))  (plain DW_kxk(h) in blocks without the skip)   # DW: conv -> BN -> SiLU
    x = x + drop_path(proj(h))  (proj(h) alone in blocks without the skip)

The attention (stages 3 and 4, all blocks but the first) is multi-head self-attention with
``q, k = 1x1 conv(n)`` and the values the normalised input itself (the official ``attn_pre=True``;
the expansion ``v`` follows the attention). It runs in windows of ``window_size x window_size``
tokens taken as in the official code: the map is split into a grid of ``n_h x n_w`` windows where
window ``(a, b)`` holds the tokens ``(i * n_h + a, j * n_w + b)``, i.e. tokens ``n_h`` rows /
``n_w`` columns apart (a dilated grid covering the whole map), not contiguous patches.

Any input size: before the attention the normalised map is zero-padded at the bottom/right to a
multiple of the window (``(-H) % window_size`` rows, ``(-W) % window_size`` columns), exactly as the
official code pads; the padded tokens take part as keys (their keys are the ``qk`` bias, the
official code does not mask them) and are cropped afterwards. ``window_size <= 0`` attends over the
whole map. All strided convs are 3x3 or 5x5 with padding ``k // 2``, so stage ``i`` has
``ceil(H / 2 ** (i + 2))`` rows.

The first block of a stage has stride 2 in its depth-wise conv, twice the expansion and no skip and
no attention. The stem is a 3x3/2 conv (bias) -> BN, then an iRMB without norm, ``v`` and skip,
with an SE of ratio 1 (``stem_block``). Norm eps is 1e-6 everywhere (BatchNorm included).

Parameter names are the official ones except the stem (official ``stage0.0.convs.0.{0,1}`` ->
``stem.conv`` / ``stem.norm``, ``stage0.1`` -> ``stem_block``) and the LayerNorms (official
``...norm.norm.*``, a wrapper, -> ``...norm.*``); ``convert_emo_checkpoint`` maps them. The
classifier's ``norm`` and ``head`` are not part of the backbone.
"""
import re
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import DropPath, LayerNorm2d, attention, drop_path_rates, maybe_checkpoint
from ..layers.norm import batchnorms_to_eval
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch

_ACTS = {'relu': nn.ReLU, 'silu': nn.SiLU, 'gelu': nn.GELU, 'none': nn.Identity}


def _norm(kind: str, dim: int) -> nn.Module:
    if kind == 'bn':
        return nn.BatchNorm2d(dim, eps=1e-6)
    if kind == 'ln':
        return LayerNorm2d(dim, eps=1e-6)
    raise ValueError(f"EMO: unknown norm {kind!r} (choose 'bn' or 'ln')")


def _act(kind: str) -> nn.Module:
    if kind not in _ACTS:
        raise ValueError(f'EMO: unknown activation {kind!r} (choose from {sorted(_ACTS)})')
    return _ACTS[kind]()


class ConvNormAct(nn.Module):
    """conv -> (BN) -> (act), the official ``ConvNormAct`` (keys ``conv``, ``norm``)."""

    def __init__(self, dim_in: int, dim_out: int, kernel_size: int = 1, stride: int = 1, groups: int = 1,
                 bias: bool = False, norm: bool = False, act: str = 'none'):
        super().__init__()
        self.conv = nn.Conv2d(dim_in, dim_out, kernel_size, stride, kernel_size // 2, groups=groups, bias=bias)
        self.norm = nn.BatchNorm2d(dim_out, eps=1e-6) if norm else nn.Identity()
        self.act = _act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class SqueezeExcite(nn.Module):
    """x * sigmoid(expand(act(reduce(mean(x))))), timm's ``SqueezeExcite`` (the official one)."""

    def __init__(self, dim: int, rd_ratio: float, act: str):
        super().__init__()
        rd = round(dim * rd_ratio)
        self.conv_reduce = nn.Conv2d(dim, rd, 1)
        self.act1 = _act(act)
        self.conv_expand = nn.Conv2d(rd, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * s.sigmoid()


def grid_partition(x: torch.Tensor, window: tuple) -> tuple:
    """``(B, C, H, W)`` (multiples of the window) -> ``(B * n_h * n_w, C, wh, ww)``; window ``(a, b)``
    holds the tokens ``(i * n_h + a, j * n_w + b)`` (the official ``(h1 n1) (w1 n2)`` split)."""
    B, C, H, W = x.shape
    wh, ww = window
    nh, nw = H // wh, W // ww
    x = x.view(B, C, wh, nh, ww, nw).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(B * nh * nw, C, wh, ww), (nh, nw)


def grid_reverse(x: torch.Tensor, grid: tuple) -> torch.Tensor:
    nh, nw = grid
    b, C, wh, ww = x.shape
    x = x.view(b // (nh * nw), nh, nw, C, wh, ww).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(b // (nh * nw), C, wh * nh, ww * nw)


class IRMB(nn.Module):
    """Inverted residual mobile block (see the module docstring).

    Args:
        dim_in / dim_out: channels; dim_mid = int(dim_in * exp_ratio).
        norm: 'bn' | 'ln' | None (no input norm). act: of ``v`` (and the SE).
        v_proj: the 1x1 expansion ``v`` (False: identity, only the stem block).
        attn: windowed attention before ``v`` with heads of ``dim_head`` channels.
        skip: the inner (around the depth-wise conv) and outer residuals, only when the shapes allow.
        attn_pre: True (all official models): attention on the input, then ``v``; False: ``v`` first,
            attention on its output.
    """

    def __init__(self, dim_in: int, dim_out: int, exp_ratio: float = 1.0, norm: Optional[str] = 'bn',
                 act: str = 'relu', v_proj: bool = True, dw_kernel: int = 3, stride: int = 1,
                 se_ratio: float = 0.0, dim_head: int = 64, window_size: int = 7, attn: bool = False,
                 skip: bool = True, qkv_bias: bool = True, attn_pre: bool = True, attn_drop: float = 0.0,
                 drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.norm = _norm(norm, dim_in) if norm else nn.Identity()
        dim_mid = int(dim_in * exp_ratio)
        self.has_skip = skip and dim_in == dim_out and stride == 1
        self.attn = attn
        if attn:
            if dim_in % dim_head:
                raise ValueError(f'EMO: channels {dim_in} are not divisible by dim_head {dim_head}')
            self.num_heads = dim_in // dim_head
            self.dim_head = dim_head
            self.window_size = window_size
            self.attn_pre = attn_pre
            self.attn_drop = attn_drop
            self.qk = ConvNormAct(dim_in, dim_in * 2, bias=qkv_bias)
        if attn or v_proj:
            self.v = ConvNormAct(dim_in, dim_mid, bias=qkv_bias, act=act)
        else:
            self.v = nn.Identity()
        self.conv_local = ConvNormAct(dim_mid, dim_mid, dw_kernel, stride, groups=dim_mid, norm=True, act='silu')
        self.se = SqueezeExcite(dim_mid, se_ratio, act) if se_ratio > 0 else nn.Identity()
        self.proj_drop = nn.Dropout(drop)
        self.proj = ConvNormAct(dim_mid, dim_out)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _window_attention(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        wh, ww = (self.window_size, self.window_size) if self.window_size > 0 else (H, W)
        ph, pw = (-H) % wh, (-W) % ww
        x = F.pad(x, (0, pw, 0, ph))
        x, grid = grid_partition(x, (wh, ww))
        b, n = x.shape[0], wh * ww
        q, k = self.qk(x).reshape(b, 2, self.num_heads, self.dim_head, n).transpose(-2, -1).unbind(1)
        v = self.v(x) if not self.attn_pre else x
        heads_dim = v.shape[1] // self.num_heads
        v = v.reshape(b, self.num_heads, heads_dim, n).transpose(-2, -1)
        y = attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0, scale=self.dim_head ** -0.5)
        y = y.transpose(-2, -1).reshape(b, -1, wh, ww)
        if self.attn_pre:
            y = self.v(y)
        y = grid_reverse(y, grid)
        return y[:, :, :H, :W] if ph or pw else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm(x)
        x = self._window_attention(x) if self.attn else self.v(x)
        if self.has_skip:
            x = x + self.se(self.conv_local(x))
        else:
            x = self.se(self.conv_local(x))
        x = self.proj(self.proj_drop(x))
        return shortcut + self.drop_path(x) if self.has_skip else x


@MODELS.register_module()
class EMO(BaseBackbone):
    """EMO backbone (four stages of iRMBs, strides 4, 8, 16, 32).

    Args:
        arch: '1m' | '2m' | '5m' | '6m' (aliases 'emo_1m', ...), or a dict with ``depths``,
            ``embed_dims``, ``exp_ratios``, ``dim_heads`` (optional: ``stem_dim`` 24, ``dw_kernels``
            (3, 3, 5, 5), ``norms`` ('bn', 'bn', 'ln', 'ln'), ``acts`` ('silu', 'silu', 'gelu', 'gelu'),
            ``attns`` (False, False, True, True), ``se_ratios`` (0, 0, 0, 0), ``window_sizes`` 7).
        in_channels: input image channels.
        window_size: attention window (int or one per stage); None keeps the arch's 7. The official
            dense configs use 10 (RetinaNet/SSDLite 5M) and 16 (DeepLabv3/PSPNet 5M).
        drop_path_rate: stochastic depth, increasing linearly over the blocks of stages 1-4 (the
            official models: 0.04036 for 1M, 0.05 for the others).
        attn_pre: attention before the expansion ``v`` (every official model).
        qkv_bias: biases of ``qk`` and ``v``.
        out_indices: stages whose outputs are returned (the raw block outputs, as the official
            dense backbone; no extra norm).
        frozen_stages: -1 trains all; 0 freezes the stem (conv + stem block); k > 0 also stages 1..k.
        norm_eval: keep every BatchNorm in eval mode while training (official detection configs).
        with_cp: activation checkpointing in every block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``; the official release (a bare
            state dict, classifier included) is converted on load.
    """

    converter = 'convert_emo_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        '1m': dict(depths=(2, 2, 8, 3), embed_dims=(32, 48, 80, 168), exp_ratios=(2.0, 2.5, 3.0, 3.5),
                   dim_heads=(16, 16, 20, 21)),
        '2m': dict(depths=(3, 3, 9, 3), embed_dims=(32, 48, 120, 200), exp_ratios=(2.0, 2.5, 3.0, 3.5),
                   dim_heads=(16, 16, 20, 20)),
        '5m': dict(depths=(3, 3, 9, 3), embed_dims=(48, 72, 160, 288), exp_ratios=(2.0, 3.0, 4.0, 4.0),
                   dim_heads=(24, 24, 32, 32)),
        '6m': dict(depths=(3, 3, 9, 3), embed_dims=(48, 72, 160, 320), exp_ratios=(2.0, 3.0, 4.0, 5.0),
                   dim_heads=(16, 24, 20, 32)),
    }
    arch_zoo.update({f'emo_{k}': v for k, v in list(arch_zoo.items())})
    _defaults = dict(stem_dim=24, dw_kernels=(3, 3, 5, 5), norms=('bn', 'bn', 'ln', 'ln'),
                     acts=('silu', 'silu', 'gelu', 'gelu'), attns=(False, False, True, True),
                     se_ratios=(0.0, 0.0, 0.0, 0.0), window_sizes=(7, 7, 7, 7))

    def __init__(self, arch='5m', in_channels=3, window_size=None, drop_path_rate=0.0, attn_pre=True,
                 qkv_bias=True, attn_drop_rate=0.0, drop_rate=0.0, out_indices=(0, 1, 2, 3), frozen_stages=-1,
                 norm_eval=False, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = dict(self._defaults)
        cfg.update(resolve_arch(arch, self.arch_zoo, ('depths', 'embed_dims', 'exp_ratios', 'dim_heads'), name))
        if window_size is not None:
            cfg['window_sizes'] = window_size
        if isinstance(cfg['window_sizes'], int):
            cfg['window_sizes'] = (cfg['window_sizes'], ) * len(cfg['depths'])
        depths, dims = tuple(cfg['depths']), tuple(cfg['embed_dims'])
        per_stage = ('embed_dims', 'exp_ratios', 'dim_heads', 'dw_kernels', 'norms', 'acts', 'attns',
                     'se_ratios', 'window_sizes')
        if any(len(cfg[k]) != len(depths) for k in per_stage):
            raise ValueError(f'{name}: {", ".join(per_stage)} need one entry per stage ({len(depths)})')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(dims)
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp

        stem_dim = cfg['stem_dim']
        k0 = cfg['dw_kernels'][0]
        self.stem = nn.Sequential()
        self.stem.add_module('conv', nn.Conv2d(in_channels, stem_dim, k0, 2, k0 // 2))
        self.stem.add_module('norm', _norm(cfg['norms'][0], stem_dim))
        self.stem_block = IRMB(stem_dim, stem_dim, 1.0, norm=None, act=cfg['acts'][0], v_proj=False,
                               dw_kernel=k0, se_ratio=1.0, skip=False, qkv_bias=qkv_bias, drop=drop_rate)
        dpr = drop_path_rates(drop_path_rate, depths)
        dim_prev = stem_dim
        for i in range(self.num_stages):
            blocks = []
            for j in range(depths[i]):
                first = j == 0
                blocks.append(IRMB(
                    dim_prev, dims[i], cfg['exp_ratios'][i] * (2 if first else 1), norm=cfg['norms'][i],
                    act=cfg['acts'][i], dw_kernel=cfg['dw_kernels'][i], stride=2 if first else 1,
                    se_ratio=cfg['se_ratios'][i], dim_head=cfg['dim_heads'][i],
                    window_size=cfg['window_sizes'][i], attn=cfg['attns'][i] and not first, skip=not first,
                    qkv_bias=qkv_bias, attn_pre=attn_pre, attn_drop=attn_drop_rate, drop=drop_rate,
                    drop_path=dpr[i][j]))
                dim_prev = dims[i]
            self.add_module(f'stage{i + 1}', nn.ModuleList(blocks))
        self._freeze_stages()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.stem)
            freeze(self.stem_block)
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(getattr(self, f'stage{i + 1}'))

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            batchnorms_to_eval(self)
        return self

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        x = maybe_checkpoint(self.stem_block, x, enabled=self.with_cp)
        outs = []
        for i in range(self.num_stages):
            for block in getattr(self, f'stage{i + 1}'):
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


_STEM_RENAMES = (('stage0.0.convs.0.0.', 'stem.conv.'), ('stage0.0.convs.0.1.', 'stem.norm.'),
                 ('stage0.1.', 'stem_block.'))


def convert_emo_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an EMO checkpoint's weights to this module's names.

    Official release (``resources/EMO_*/net.pth``, classifier and dense layouts alike): the stem
    ``stage0.0.convs.0.{0,1}`` / ``stage0.1`` -> ``stem.conv`` / ``stem.norm`` / ``stem_block``; the
    LayerNorm wrappers ``stage{i}.{j}.norm.norm.*`` -> ``stage{i}.{j}.norm.*``; the classifier
    (top-level ``norm.*``, ``pre_head.*``, ``head.*``) is dropped. Our own keys pass unchanged. No
    other library implements EMO.
    """
    out = {}
    for k, v in state_dict.items():
        if k.startswith(('norm.', 'pre_head.', 'head.')):
            continue
        for old, new in _STEM_RENAMES:
            if k.startswith(old):
                k = new + k[len(old):]
                break
        out[re.sub(r'^(stage\d+\.\d+)\.norm\.norm\.', r'\1.norm.', k)] = v
    return out
