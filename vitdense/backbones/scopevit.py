"""ScopeViT: Scale-Aware Vision Transformer (Nie et al.), after the official xuesongnie/ScopeViT
``models/scopevit.py`` (classifier ``ScopeViT`` and its dense form ``ScopeViT_feat``).

Stage ``i`` is a patch embedding (stage 0: two 3x3/2 conv + BN, GELU between; later stages one
3x3/2 conv + BN), ``depths[i]`` ScopeViT blocks and a BatchNorm (``norm{i+1}``) whose output both
leaves the stage and feeds the next one. A ScopeViT block is two pre-norm transformer blocks on the
tokens of the ``H x W`` map, each with layer scale (init 1e-6) and a GELU MLP:

* MSSA (multi-scale self-attention): ``n = LN(x)`` goes through an inverted residual
  (1x1 -> BN ReLU -> 3x3 dw -> BN ReLU -> 1x1 -> BN, plus the input) ``c``; queries are
  ``query(c)``; keys/values come from ``c`` split by heads into three channel groups, each through
  a strided (``mssa_stride``) depth-wise 7x7 / 5x5 / 3x3 conv (``mssa_split`` heads per group).
* GSDA (global-scale dilated attention): the map is cut into ``d x d`` token grids spaced
  ``H / d`` apart (``d = gsda_dilation`` = 8), attention runs inside each grid with a relative
  position bias from a 2 -> 512 -> heads MLP of log-spaced offsets (timm's ``RelPosMlp``, 'cr').

Inputs of any size: the convs give ``ceil(H / 2**(i+2))`` rows at stage ``i``. GSDA needs rows and
columns divisible by ``d``; the official code then fails (``rearrange``), we zero-pad the tokens at
the bottom/right to a multiple of ``d`` and mask the padded keys, so at sizes the official code
accepts the result is the same and otherwise no token attends to padding.

Parameter names follow the official ones (``patch_embed{i}``, ``blocks{i}.{j}.mssa/gsda``,
``norm{i}``, 1-based), so the official classification and dense checkpoints load as they are,
the classifier ``head.*`` dropped. ``frozen_stages`` follows vitdense's convention (0: stem only),
not the official one (0 freezes the whole first stage).
"""
import math
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import DropPath, Mlp, attention, drop_path_rates, maybe_checkpoint, relative_position_index
from ..layers.shape import map_to_tokens, tokens_to_map
from ..layers.weight_init import init_conv_fan_out_, init_linear_and_layernorm_
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class LayerScale(nn.Module):
    """``x * gamma`` (official name ``gamma``)."""

    def __init__(self, dim: int, init_value: float = 1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim, ), float(init_value)))

    def forward(self, x):
        return x * self.gamma


class InvertedResidual(nn.Module):
    """MobileNetV2 block without SE, expansion 4, ReLU, bias-free convs, identity shortcut
    (the official ``cpe``; ``bn1``/``bn2`` are ``Sequential(BN, ReLU)`` as there)."""

    def __init__(self, dim: int, exp_ratio: float = 4.0):
        super().__init__()
        mid = int(dim * exp_ratio)
        self.conv_pw = nn.Conv2d(dim, mid, 1, bias=False)
        self.bn1 = nn.Sequential(nn.BatchNorm2d(mid), nn.ReLU())
        self.conv_dw = nn.Conv2d(mid, mid, 3, padding=1, groups=mid, bias=False)
        self.bn2 = nn.Sequential(nn.BatchNorm2d(mid), nn.ReLU())
        self.conv_pwl = nn.Conv2d(mid, dim, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)

    def forward(self, x):
        y = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        return x + self.bn3(self.conv_pwl(y))


class MultiScalePatchEmbed(nn.Module):
    """``cpe`` map -> (query tokens, multi-scale key/value tokens)."""

    KERNELS = (('large_embed', 7), ('medium_embed', 5), ('small_embed', 3))

    def __init__(self, dim: int, stride: int, split: Sequence[int]):
        super().__init__()
        self.cpe = InvertedResidual(dim)
        self.split = [int(c) for c in split]
        for (name, k), ch in zip(self.KERNELS, self.split):
            # timm's create_conv2d(padding=''): symmetric ((stride - 1) + k - 1) // 2, no bias
            conv = nn.Conv2d(ch, ch, k, stride, ((stride - 1) + k - 1) // 2, groups=ch, bias=False) if ch else None
            setattr(self, name, conv)

    def forward(self, x, hw):
        x = self.cpe(tokens_to_map(x, hw))
        groups = torch.split(x, [c for c in self.split if c], dim=1)
        convs = [getattr(self, name) for name, _ in self.KERNELS]
        kv = torch.cat([conv(g) for conv, g in zip([c for c in convs if c is not None], groups)], dim=1)
        return map_to_tokens(x), map_to_tokens(kv)


class MultiScaleAttention(nn.Module):

    def __init__(self, dim: int, num_heads: int, stride: int, split_heads: Sequence[int], qkv_bias=False):
        super().__init__()
        if sum(split_heads) != num_heads:
            raise ValueError(f'ScopeViT: mssa_split {tuple(split_heads)} must sum to num_heads {num_heads}')
        if split_heads[0] == 0:
            raise ValueError(f'ScopeViT: mssa_split {tuple(split_heads)} needs heads in the 7x7 group')
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.mspe = MultiScalePatchEmbed(dim, stride, [h * head_dim for h in split_heads])
        self.query = nn.Linear(dim, dim, bias=qkv_bias)
        self.key_value = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, hw):
        B, N, C = x.shape
        q, kv = self.mspe(x, hw)
        q = self.query(q).reshape(B, N, self.num_heads, -1).transpose(1, 2)
        k, v = self.key_value(kv).reshape(B, kv.shape[1], 2, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        x = attention(q, k, v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class RelPosMlp(nn.Module):
    """timm's ``RelPosMlp`` in 'cr' mode: ``mlp(sign(d) * log(1 + |d|))`` of the (dy, dx) offsets
    inside a ``window x window`` grid, gathered to a ``(heads, N, N)`` bias (no gain/activation)."""

    def __init__(self, window: int, num_heads: int, hidden_dim: int = 512):
        super().__init__()
        self.num_heads = num_heads
        self.window = window
        # the official Mlp(2, 512, heads, ReLU, drop=(0.125, 0)): dropout after the ReLU
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(2, hidden_dim)
        self.mlp.fc2 = nn.Linear(hidden_dim, num_heads)
        self.drop = nn.Dropout(0.125)
        r = torch.arange(-(window - 1), window, dtype=torch.float32)
        coords = torch.stack(torch.meshgrid(r, r, indexing='ij'), dim=-1)  # (2w-1, 2w-1, 2)
        self.register_buffer('rel_coords_log', torch.sign(coords) * torch.log1p(coords.abs()), persistent=False)
        self.register_buffer('relative_position_index', relative_position_index((window, window)),
                             persistent=False)

    def forward(self):
        t = self.mlp.fc2(self.drop(F.relu(self.mlp.fc1(self.rel_coords_log)))).reshape(-1, self.num_heads)
        n = self.window * self.window
        return t[self.relative_position_index.reshape(-1)].reshape(n, n, -1).permute(2, 0, 1)


class GlobalScaleAttention(nn.Module):
    """Attention inside ``d x d`` grids of tokens spaced ``ceil(H / d)`` apart (official GSDA)."""

    def __init__(self, dim: int, num_heads: int, dilation: int = 8, qkv_bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.dilation = dilation
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos = RelPosMlp(dilation, num_heads)

    def forward(self, x, hw):
        B, N, C = x.shape
        H, W = hw
        d = self.dilation
        Hp, Wp = math.ceil(H / d) * d, math.ceil(W / d) * d
        hp, wp = Hp // d, Wp // d
        x = x.reshape(B, H, W, C)
        if (Hp, Wp) != (H, W):
            x = F.pad(x, (0, 0, 0, Wp - W, 0, Hp - H))
        # token (a * hp + i, b * wp + j) -> grid g = i * wp + j, slot a * d + b
        n = d * d
        x = x.reshape(B, d, hp, d, wp, C).permute(0, 2, 4, 1, 3, 5).reshape(B, hp * wp, n, C)
        q, k, v = self.qkv(x).reshape(B, hp * wp, n, 3, self.num_heads, -1).permute(3, 0, 1, 4, 2, 5)
        bias = self.rel_pos()  # (heads, n, n)
        finite = (Hp, Wp) == (H, W)
        if not finite:  # padded keys never get weight; every grid holds a real token (slot 0, 0)
            valid = torch.zeros(Hp, Wp, dtype=torch.bool, device=x.device)
            valid[:H, :W] = True
            valid = valid.reshape(d, hp, d, wp).permute(1, 3, 0, 2).reshape(hp * wp, 1, 1, n)
            bias = bias.masked_fill(~valid, float('-inf'))  # (grids, heads, n, n)
        x = attention(q, k, v, bias, finite_bias=finite).transpose(2, 3).reshape(B, hp * wp, n, C)
        x = self.proj(x).reshape(B, hp, wp, d, d, C).permute(0, 3, 1, 4, 2, 5).reshape(B, Hp, Wp, C)
        return x[:, :H, :W].reshape(B, N, C)


class _TransformerBlock(nn.Module):
    """``x + ls1(attn(LN(x)))``, ``x + ls2(mlp(LN(x)))`` (official ``MultiScaleAttentionBlock`` /
    ``GlobalScaleAttentionBlock``; one drop path module serves both residuals)."""

    def __init__(self, dim: int, attn: nn.Module, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = attn
        self.ls1 = LayerScale(dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim)

    def forward(self, x, hw):
        x = x + self.drop_path(self.ls1(self.attn(self.norm1(x), hw)))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))


class ScopeViTBlock(nn.Module):
    """MSSA block then GSDA block, on the tokens of a ``(B, C, H, W)`` map; returns a map."""

    def __init__(self, dim, num_heads, mlp_ratio, drop_path, mssa_stride, mssa_split, gsda_dilation):
        super().__init__()
        self.mssa = _TransformerBlock(dim, MultiScaleAttention(dim, num_heads, mssa_stride, mssa_split),
                                      mlp_ratio, drop_path)
        self.gsda = _TransformerBlock(dim, GlobalScaleAttention(dim, num_heads, gsda_dilation), mlp_ratio,
                                      drop_path)

    def forward(self, x):
        hw = x.shape[-2:]
        t = self.gsda(self.mssa(map_to_tokens(x), hw), hw)
        return tokens_to_map(t, hw)


def _conv_bn(cin, cout):
    return [nn.Conv2d(cin, cout, 3, 2, 1), nn.BatchNorm2d(cout)]


class StemPatchEmbed(nn.Module):
    """Official ``StackConvPatchEmbed``: ``projection`` = conv 3x3/2 -> BN -> GELU -> conv 3x3/2 -> BN."""

    def __init__(self, in_channels, dim):
        super().__init__()
        self.projection = nn.Sequential(*_conv_bn(in_channels, dim // 2), nn.GELU(), *_conv_bn(dim // 2, dim))

    def forward(self, x):
        return self.projection(x)


class ConvPatchEmbed(nn.Module):
    """Official ``ConvPatchEmbed``: ``projection`` conv 3x3/2, ``norm`` BN."""

    def __init__(self, in_channels, dim):
        super().__init__()
        self.projection, self.norm = _conv_bn(in_channels, dim)

    def forward(self, x):
        return self.norm(self.projection(x))


_SPLIT = ((1, 1, 0), (2, 1, 1), (4, 3, 1), (8, 6, 2))
_COMMON = dict(num_heads=(2, 4, 8, 16), mssa_stride=(4, 2, 1, 1), mssa_split=_SPLIT, gsda_dilation=(8, 8, 8, 8))


@MODELS.register_module()
class ScopeViT(BaseBackbone):
    """ScopeViT backbone.

    Args:
        arch: 'xtiny' | 'tiny' | 'small' (or 'xt'/'x-tiny', 't', 's'), or a dict with
            ``embed_dims``, ``depths``, ``num_heads``, ``mssa_stride``, ``mssa_split`` (heads of the
            7x7 / 5x5 / 3x3 key-value groups per stage) and ``gsda_dilation``.
        in_channels: input image channels.
        mlp_ratio: MLP expansion of both transformer blocks (official 4).
        drop_path_rate: stochastic depth, increasing linearly over all ScopeViT blocks.
        out_indices: stages whose features (after the stage BatchNorm) are returned (strides 4..32).
        frozen_stages: -1 trains all; 0 freezes the stem (``patch_embed1``); k > 0 also stages
            0..k-1 (patch embedding, blocks and stage BatchNorm). Frozen BatchNorms keep their
            running statistics.
        with_cp: activation checkpointing in every ScopeViT block.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``; the official classification
            checkpoint (``head.*`` dropped) and dense checkpoints (``backbone.*``) load as they are.
    """

    converter = 'convert_scopevit_checkpoint'  # defined below the class
    arch_zoo = {
        'xtiny': dict(embed_dims=(32, 64, 128, 256), depths=(1, 2, 4, 1), **_COMMON),
        'tiny': dict(embed_dims=(32, 64, 128, 256), depths=(2, 2, 5, 2), **_COMMON),
        'small': dict(embed_dims=(64, 128, 256, 512), depths=(1, 2, 3, 1), **_COMMON),
    }
    arch_zoo.update({'xt': arch_zoo['xtiny'], 'x-tiny': arch_zoo['xtiny'], 't': arch_zoo['tiny'],
                     's': arch_zoo['small']})
    essential_keys = ('embed_dims', 'depths', 'num_heads', 'mssa_stride', 'mssa_split', 'gsda_dilation')

    def __init__(self, arch='tiny', in_channels=3, mlp_ratio=4.0, drop_path_rate=0.0, out_indices=(0, 1, 2, 3),
                 frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, self.essential_keys, name)
        dims, depths = tuple(cfg['embed_dims']), tuple(cfg['depths'])
        n = len(depths)
        for key in self.essential_keys:
            if len(cfg[key]) != n:
                raise ValueError(f'{name}: {key} {tuple(cfg[key])} must have one entry per stage ({n})')
        self.num_stages = n
        self.out_indices = check_out_indices(out_indices, n, name)
        self.num_features = list(dims)
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        dpr = drop_path_rates(drop_path_rate, depths)
        for i in range(n):
            embed = StemPatchEmbed(in_channels, dims[0]) if i == 0 else ConvPatchEmbed(dims[i - 1], dims[i])
            self.add_module(f'patch_embed{i + 1}', embed)
            self.add_module(f'blocks{i + 1}', nn.ModuleList([
                ScopeViTBlock(dims[i], cfg['num_heads'][i], mlp_ratio, rate, cfg['mssa_stride'][i],
                              cfg['mssa_split'][i], cfg['gsda_dilation'][i]) for rate in dpr[i]]))
            self.add_module(f'norm{i + 1}', nn.BatchNorm2d(dims[i]))
        self._freeze_stages()

    def init_weights(self):
        if self.init_cfg is None:  # the official classifier's _init_weights (BatchNorms stay 1 / 0)
            init_linear_and_layernorm_(self)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init_conv_fan_out_(m)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed1)
        for i in range(1, self.frozen_stages + 1):
            for part in ('patch_embed', 'blocks', 'norm'):
                freeze(getattr(self, f'{part}{i}'))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        for i in range(self.num_stages):
            x = getattr(self, f'patch_embed{i + 1}')(x)
            for block in getattr(self, f'blocks{i + 1}'):
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            x = getattr(self, f'norm{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


def convert_scopevit_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a ScopeViT checkpoint to this module's names.

    The official classifier (``ScopeViT``) and dense (``ScopeViT_feat``, ``backbone.`` prefix
    stripped by the loader) checkpoints already use our names; the classifier ``head.*`` is
    dropped, and the relative-position buffers (non-persistent in both) are rebuilt. Our own
    checkpoints pass unchanged. No other library implements ScopeViT.
    """
    drop = ('head.', )
    buffers = ('.rel_pos.relative_position_index', '.rel_pos.rel_coords_log')
    return {k: v for k, v in state_dict.items() if not k.startswith(drop) and not k.endswith(buffers)}
