"""TransNeXt (Shi, CVPR 2024), the dense-prediction form of the official detection/segmentation code
(DaiShiResearch/TransNeXt @ c8a9974, ``detection/maskrcnn/transnext_native.py``).

Stages 1-3 use aggregated attention: every query attends, under one softmax, to the
``window x window`` pixels around it (pixel-focused attention: zero padding at the border, masked
out) and to ``H/sr x W/sr`` pooled tokens (1x1 conv + GELU + adaptive average pooling + LN).
Queries and keys are L2-normalised; the queries get a learned query embedding and are scaled by
``softplus(temperature) * log(number of keys it sees)`` (length-scaled cosine attention). The
local part adds a learned bias and, on the value side, "learnable tokens" (``q @ tokens + bias``);
the pooled part adds a continuous position bias: an MLP (``cpb_fc1``/``cpb_fc2``) of log-spaced
relative coordinates. Stage 4 is full attention with the same ingredients. The MLP is a
convolutional GLU; patch embeddings are overlapping strided convs.

Position bias at any input size: as the official dense code, the bias is generated for the
resolution ``img_size`` (the estimated training resolution; 800 for the Mask R-CNN and 512 for the
UperNet settings) and bilinearly interpolated to the actual feature maps
(``is_extrapolation=False``), or generated for the actual maps (``is_extrapolation=True``).
Coordinates are scaled by ``pretrain_size`` (224 for the ImageNet-1k weights).

Any input size: the overlapping convs give ``ceil(H / 4)``, ``ceil(H / 8)``, ... rows, the local
window masks the border, and the pooled grid is ``max(1, H // sr)`` (the official code fails on maps
smaller than ``sr``; it is otherwise identical).

The pure-PyTorch path (products with the shifted views of the zero-padded map) runs everywhere. When the official CUDA
extension ``swattention`` is importable and the input is on a GPU, its kernels compute the local
part instead (same result).
"""
from functools import lru_cache
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from ..layers import DropPath, attention, drop_path_rates, maybe_checkpoint, to_2tuple
from ..layers.weight_init import init_conv_fan_out_
from ..layers.shape import depthwise_conv_channels_last, map_to_tokens, tokens_to_map
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch

try:  # the official CUDA extension (DaiShiResearch/TransNeXt/swattention_extension)
    import swattention as _swattention
except ImportError:  # pragma: no cover - not installed here
    _swattention = None


# ----------------------------------------------------------------------------- position helpers

def _axis_coords(q: int, k: int, p: int, device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Sorted unique relative coordinates along one axis between ``q`` query positions and ``k``
    adaptive-average-pooled key positions (scaled by the pre-training length ``p``), and the
    ``(q, k)`` index of each pair into them."""
    aq = torch.arange(q, dtype=torch.float32, device=device)
    ak = F.adaptive_avg_pool1d(aq.unsqueeze(0), k).squeeze(0)
    rel = (aq[:, None] - ak[None, :]) / (p - 1) * 8
    values, index = torch.unique(rel.reshape(-1), return_inverse=True)
    return values, index.reshape(q, k)


@torch.no_grad()
def relative_coords_cpb(query_size, key_size, pretrain_size, device=None):
    """Inputs of the continuous position bias MLP, as the official ``get_relative_position_cpb``.

    Returns ``(table, index_h, index_w)``: ``table`` ``(Uh, Uw, 2)`` the log-spaced unique
    relative (dy, dx) pairs (flattened, the official table in its lexicographic order), and per
    axis the index of each (query, key) pair, so that the bias of query ``(qy, qx)`` and key
    ``(ky, kx)`` is ``MLP(table)[index_h[qy, ky], index_w[qx, kx]]``. The official code builds the
    same table with a ``unique`` over all ``Nq * Nk`` pairs; this separable form is exact and cheap.
    """
    vh, ih = _axis_coords(query_size[0], key_size[0], pretrain_size[0], device)
    vw, iw = _axis_coords(query_size[1], key_size[1], pretrain_size[1], device)
    table = torch.stack(torch.meshgrid(vh, vw, indexing='ij'), -1)
    log8 = torch.log2(torch.tensor(8, dtype=torch.float32))
    table = torch.sign(table) * torch.log2(table.abs() + 1.0) / log8
    return table, ih, iw


def gather_cpb(bias_table: torch.Tensor, ih: torch.Tensor, iw: torch.Tensor) -> torch.Tensor:
    """``MLP(table)`` ``(Uh, Uw, heads)`` -> bias ``(heads, Nq, Nk)`` (queries and keys row-major)."""
    heads = bias_table.shape[-1]
    b = bias_table.permute(2, 0, 1)[:, ih[:, None, :, None], iw[None, :, None, :]]  # (heads, qh, qw, kh, kw)
    return b.reshape(heads, ih.shape[0] * iw.shape[0], ih.shape[1] * iw.shape[1])


@lru_cache(maxsize=16)
def _local_mask(H: int, W: int, window: int, device: torch.device):
    """Per query: number of in-image pixels of its window (N, 1) and the padding mask (N, window^2)."""
    ones = torch.ones(1, 1, H, W, device=device)
    valid = F.unfold(ones, window, padding=window // 2).squeeze(0).transpose(0, 1)  # (N, L)
    return valid.sum(-1, keepdim=True), valid == 0


@lru_cache(maxsize=64)
def _bilinear_support(n_in: int, n_out: int) -> torch.Tensor:
    """Input rows that a bilinear resize (``align_corners=False``) from ``n_in`` to ``n_out`` reads
    with a non-zero weight (all of them when enlarging)."""
    eye = torch.eye(n_in).reshape(n_in, 1, n_in, 1)
    used = F.interpolate(eye, size=(n_out, 1), mode='bilinear').reshape(n_in, n_out).ne(0).any(1)
    return used.nonzero().flatten()


def interpolated_cpb(bias_table: torch.Tensor, ih: torch.Tensor, iw: torch.Tensor, trained_q, trained_k,
                     q_hw, k_hw) -> torch.Tensor:
    """The official bilinear resize of the bias generated at the training resolution,
    ``(heads, Nq_t, Nk_t)``, to the actual query and key grids (first over keys, then over queries).

    Only the training-resolution queries that the second resize reads are generated; the others
    enter it as zeros with zero weight, so the result equals the official computation while a
    small map no longer costs the full ``Nq_t x Nk_t`` table (``heads x 40000 x 625`` per block of
    stage 1 at ``img_size=800``)."""
    heads = bias_table.shape[-1]
    sh = _bilinear_support(trained_q[0], q_hw[0]).to(ih.device)
    sw = _bilinear_support(trained_q[1], q_hw[1]).to(iw.device)
    t = bias_table.permute(2, 0, 1)
    b = t[:, ih[sh][:, None, :, None], iw[sw][None, :, None, :]]  # (heads, |sh|, |sw|, kh_t, kw_t)
    b = F.interpolate(b.reshape(heads, -1, *trained_k), k_hw, mode='bilinear')
    nk = k_hw[0] * k_hw[1]
    full = b.new_zeros(heads, nk, *trained_q)
    full[:, :, sh[:, None], sw[None, :]] = b.reshape(heads, len(sh), len(sw), nk).permute(0, 3, 1, 2)
    return F.interpolate(full, q_hw, mode='bilinear').reshape(heads, nk, -1).transpose(-1, -2)


# ----------------------------------------------------------------------------- blocks

class ConvGLU(nn.Module):
    """Convolutional GLU: ``fc1`` -> (x, gate); ``act(dwconv3x3(x)) * gate`` -> ``fc2``. The hidden
    width is ``int(2 * hidden_features / 3)``."""

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.0):
        super().__init__()
        hidden = int(2 * hidden_features / 3)
        self.fc1 = nn.Linear(in_features, hidden * 2)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        # fc1 as its two halves: each contiguous, so the depth-wise conv runs on a channels-last view
        w, b, n = self.fc1.weight, self.fc1.bias, self.dwconv.in_channels
        x, v = F.linear(x, w[:n], b[:n]), F.linear(x, w[n:], b[n:])
        x = map_to_tokens(depthwise_conv_channels_last(self.dwconv, tokens_to_map(x, hw)))
        x = self.drop(self.act(x) * v)
        return self.drop(self.fc2(x))


class _CosineAttention(nn.Module):
    """What both attentions share: the query embedding and temperature of length-scaled cosine
    attention, and the continuous position bias MLP (2 -> 512 -> ReLU -> heads) of (query, pooled
    key) pairs."""

    def _init_common(self, dim, num_heads, trained_q, sr_ratio, is_extrapolation):
        if dim % num_heads:
            raise ValueError(f'dim {dim} should be divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.sr_ratio = sr_ratio
        self.is_extrapolation = is_extrapolation
        self.trained_q = trained_q
        self.trained_k = (max(1, trained_q[0] // sr_ratio), max(1, trained_q[1] // sr_ratio))
        # softplus(temperature) starts at 1 / 0.24
        self.temperature = nn.Parameter(torch.log((torch.ones(num_heads, 1, 1) / 0.24).exp() - 1))
        self.query_embedding = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(num_heads, 1, self.head_dim), mean=0, std=0.02))
        self.cpb_fc1 = nn.Linear(2, 512, bias=True)
        self.cpb_act = nn.ReLU(inplace=True)
        self.cpb_fc2 = nn.Linear(512, num_heads, bias=True)

    def pool_size(self, hw):
        return max(1, hw[0] // self.sr_ratio), max(1, hw[1] // self.sr_ratio)

    def position_bias(self, hw, pool_hw, cpb) -> torch.Tensor:
        """``(heads, H*W, pool_H*pool_W)`` bias; ``cpb`` = (table, ih, iw) of the training
        resolution (interpolation mode) or of the actual maps (extrapolation mode)."""
        table, ih, iw = cpb
        bias_table = self.cpb_fc2(self.cpb_act(self.cpb_fc1(table)))  # (Uh, Uw, heads)
        if self.is_extrapolation:
            return gather_cpb(bias_table, ih, iw)
        return interpolated_cpb(bias_table, ih, iw, self.trained_q, self.trained_k, hw, pool_hw)


class AggregatedAttention(_CosineAttention):
    """Pixel-focused local window + pooled tokens under one softmax (stages 1-3)."""

    def __init__(self, dim, num_heads, trained_q, window_size=3, qkv_bias=True, attn_drop=0.0, proj_drop=0.0,
                 sr_ratio=8, is_extrapolation=False):
        super().__init__()
        if window_size % 2 == 0:
            raise ValueError(f'TransNeXt: the local window must be odd, got {window_size}')
        self._init_common(dim, num_heads, trained_q, sr_ratio, is_extrapolation)
        self.window_size = window_size
        self.local_len = window_size ** 2
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr = nn.Conv2d(dim, dim, kernel_size=1, stride=1, padding=0)
        self.norm = nn.LayerNorm(dim)
        self.act = nn.GELU()
        self.relative_pos_bias_local = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(num_heads, self.local_len), mean=0, std=0.0004))
        self.learnable_tokens = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(num_heads, self.head_dim, self.local_len), mean=0, std=0.02))
        self.learnable_bias = nn.Parameter(torch.zeros(num_heads, 1, self.local_len))
        self.use_kernel: Optional[bool] = None  # None: the CUDA kernel when importable and on a GPU

    def forward(self, x: torch.Tensor, hw, cpb) -> torch.Tensor:
        B, N, C = x.shape
        H, W = hw
        h, d = self.num_heads, self.head_dim
        pool_hw = self.pool_size(hw)
        pool_len = pool_hw[0] * pool_hw[1]
        local_count, pad_mask = _local_mask(H, W, self.window_size, x.device)
        scale = torch.log(local_count + pool_len)  # (N, 1): log of the number of keys of each query

        q_norm = F.normalize(self.q(x).reshape(B, N, h, d).transpose(1, 2), dim=-1)
        q_scaled = (q_norm + self.query_embedding) * F.softplus(self.temperature) * scale
        k_local, v_local = self.kv(x).chunk(2, dim=-1)
        k_local = F.normalize(k_local.reshape(B, N, h, d), dim=-1).reshape(B, N, C)

        kernel = self.use_kernel is not False and _swattention is not None and x.is_cuda
        if kernel:
            k_local = k_local.reshape(B, N, h, d).transpose(1, 2).contiguous()
            v_local = v_local.reshape(B, N, h, d).transpose(1, 2).contiguous()
            attn_local = _SWQKRPB.apply(q_scaled.contiguous(), k_local, self.relative_pos_bias_local, H, W,
                                        self.window_size)
        else:
            k_local, v_local = self._shifted_windows(k_local, hw), self._shifted_windows(v_local, hw)
            q_map = q_scaled.transpose(1, 2).reshape(B, H, W, h, d)  # a view: q_scaled is token-major
            attn_local = torch.stack([(q_map * k).sum(-1) for k in k_local], dim=-1)  # (B, H, W, h, L)
            attn_local = attn_local.reshape(B, N, h, -1).transpose(1, 2)
            attn_local = attn_local + self.relative_pos_bias_local.unsqueeze(1)
            attn_local = attn_local.masked_fill(pad_mask, float('-inf'))

        pooled = tokens_to_map(x, (H, W))
        pooled = F.adaptive_avg_pool2d(self.act(self.sr(pooled)), pool_hw).reshape(B, C, pool_len)
        kv_pool = self.kv(self.norm(pooled.transpose(1, 2))).reshape(B, pool_len, 2 * h, d).transpose(1, 2)
        k_pool, v_pool = kv_pool.chunk(2, dim=1)
        attn_pool = q_scaled @ F.normalize(k_pool, dim=-1).transpose(-2, -1)
        attn_pool = attn_pool + self.position_bias(hw, pool_hw, cpb)

        attn = self.attn_drop(torch.cat([attn_local, attn_pool], dim=-1).softmax(dim=-1))
        attn_local, attn_pool = attn.split([self.local_len, pool_len], dim=-1)
        attn_local = (q_norm @ self.learnable_tokens) + self.learnable_bias + attn_local
        if kernel:
            x_local = _SWAV.apply(attn_local.type_as(v_local), v_local, H, W, self.window_size).transpose(1, 2)
        else:
            weights = attn_local.transpose(1, 2).reshape(B, H, W, h, self.local_len, 1)
            x_local = sum(weights[..., i, :] * v for i, v in enumerate(v_local)).reshape(B, N, h, d)
        x = (x_local + (attn_pool @ v_pool).transpose(1, 2)).reshape(B, N, C)
        return self.proj_drop(self.proj(x))

    def _shifted_windows(self, t: torch.Tensor, hw):
        """Tokens ``(B, N, C)`` -> the ``window ** 2`` views ``(B, H, W, heads, head_dim)`` of the
        zero-padded map, one per window offset in unfold order: a padded copy instead of unfold's
        ``window ** 2`` copies, and products per offset instead of one tiny matmul per query."""
        B, _, C = t.shape
        (H, W), p = hw, self.window_size // 2
        t = F.pad(t.reshape(B, H, W, C), (0, 0, p, p, p, p))
        return [t[:, i:i + H, j:j + W].reshape(B, H, W, self.num_heads, self.head_dim)
                for i in range(self.window_size) for j in range(self.window_size)]


class FullAttention(_CosineAttention):
    """Length-scaled cosine attention over all tokens with the continuous position bias (stage 4)."""

    def __init__(self, dim, num_heads, trained_q, qkv_bias=True, attn_drop=0.0, proj_drop=0.0,
                 is_extrapolation=False):
        super().__init__()
        self._init_common(dim, num_heads, trained_q, 1, is_extrapolation)
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, hw, cpb) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3 * self.num_heads, self.head_dim).transpose(1, 2).chunk(3, dim=1)
        scale = torch.log(torch.as_tensor(float(N), device=x.device))
        q = (F.normalize(q, dim=-1) + self.query_embedding) * F.softplus(self.temperature) * scale
        bias = self.position_bias(hw, hw, cpb).unsqueeze(0)
        x = attention(q, F.normalize(k, dim=-1), v, bias, dropout_p=self.attn_drop if self.training else 0.0,
                      scale=1.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))


class TransNeXtBlock(nn.Module):
    """norm1 -> attention -> residual; norm2 -> ConvGLU -> residual."""

    def __init__(self, dim, num_heads, trained_q, window_size, mlp_ratio, qkv_bias, drop, attn_drop, drop_path,
                 sr_ratio, is_extrapolation):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if sr_ratio == 1:
            self.attn = FullAttention(dim, num_heads, trained_q, qkv_bias, attn_drop, drop, is_extrapolation)
        else:
            self.attn = AggregatedAttention(dim, num_heads, trained_q, window_size, qkv_bias, attn_drop, drop,
                                            sr_ratio, is_extrapolation)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = ConvGLU(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x, hw, cpb):
        x = x + self.drop_path(self.attn(self.norm1(x), hw, cpb))
        return x + self.drop_path(self.mlp(self.norm2(x), hw))


class OverlapPatchEmbed(nn.Module):
    """Strided conv with kernel ``2 * stride - 1`` (first) or 3, padding ``kernel // 2``, then LN."""

    def __init__(self, in_chans, embed_dim, kernel_size, stride):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size, stride, kernel_size // 2)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x):
        x = self.proj(x)
        hw = tuple(x.shape[2:])
        return self.norm(map_to_tokens(x)), hw


@MODELS.register_module()
class TransNeXt(BaseBackbone):
    """TransNeXt backbone.

    Args:
        arch: 'micro' | 'tiny' | 'small' | 'base' or a dict with ``embed_dims``, ``depths``,
            ``num_heads`` (optional ``mlp_ratios``, ``sr_ratios``, ``window_size``).
        img_size: resolution whose position bias is generated and interpolated (official: 800 for
            Mask R-CNN, 512 for UperNet, 224 for ImageNet); unused with ``is_extrapolation``.
        pretrain_size: image size of the pre-training, which scales the relative coordinates.
        is_extrapolation: generate the position bias for the actual feature maps instead.
        in_channels, qkv_bias, drop_rate, attn_drop_rate, drop_path_rate: as usual (stochastic depth
            0 by default as in the official class; the configs set the paper values).
        out_indices: stages returned (strides 4, 8, 16, 32), each after the stage's LayerNorm (which
            is part of the network).
        frozen_stages: -1 trains all; 0 freezes the first patch embedding; k > 0 the first k stages
            (each with its patch embedding and norm).
        with_cp: activation checkpointing per block.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` loads the official releases.
    """

    converter = 'convert_transnext_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'micro': dict(embed_dims=(48, 96, 192, 384), depths=(2, 2, 15, 2), num_heads=(2, 4, 8, 16)),
        'tiny': dict(embed_dims=(72, 144, 288, 576), depths=(2, 2, 15, 2), num_heads=(3, 6, 12, 24)),
        'small': dict(embed_dims=(72, 144, 288, 576), depths=(5, 5, 22, 5), num_heads=(3, 6, 12, 24)),
        'base': dict(embed_dims=(96, 192, 384, 768), depths=(5, 5, 23, 5), num_heads=(4, 8, 16, 32)),
    }
    arch_zoo.update({'m': arch_zoo['micro'], 't': arch_zoo['tiny'], 's': arch_zoo['small'],
                     'b': arch_zoo['base']})
    arch_defaults = dict(mlp_ratios=(8, 8, 4, 4), sr_ratios=(8, 4, 2, 1), window_size=3)

    def __init__(self, arch='tiny', img_size=224, pretrain_size=224, is_extrapolation=False, in_channels=3,
                 qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0,
                 out_indices=(0, 1, 2, 3), frozen_stages=-1, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = dict(self.arch_defaults)
        cfg.update(resolve_arch(arch, self.arch_zoo, ('embed_dims', 'depths', 'num_heads'), 'TransNeXt'))
        dims, depths, heads = tuple(cfg['embed_dims']), tuple(cfg['depths']), tuple(cfg['num_heads'])
        if not len(dims) == len(depths) == len(heads) == 4:
            raise ValueError(f'TransNeXt: embed_dims, depths and num_heads need 4 entries, got {dims}, '
                             f'{depths}, {heads}')
        self.num_stages = 4
        self.num_features = list(dims)
        self.out_indices = check_out_indices(out_indices, self.num_stages, 'TransNeXt')
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.is_extrapolation = is_extrapolation
        self.sr_ratios = tuple(cfg['sr_ratios'])
        img_size, self.pretrain_size = to_2tuple(img_size), to_2tuple(pretrain_size)
        dpr = drop_path_rates(drop_path_rate, depths)
        for i in range(self.num_stages):
            s = 2 ** (i + 2)
            trained_q = (img_size[0] // s, img_size[1] // s)
            sr = self.sr_ratios[i]
            if not is_extrapolation:  # bias inputs of the training resolution, interpolated later
                key = (max(1, trained_q[0] // sr), max(1, trained_q[1] // sr))
                table, ih, iw = relative_coords_cpb(trained_q, key, self._stage_pretrain(i))
                self.register_buffer(f'relative_coords_table{i + 1}', table, persistent=False)
                self.register_buffer(f'relative_index_h{i + 1}', ih, persistent=False)
                self.register_buffer(f'relative_index_w{i + 1}', iw, persistent=False)
            setattr(self, f'patch_embed{i + 1}', OverlapPatchEmbed(
                in_channels if i == 0 else dims[i - 1], dims[i], 7 if i == 0 else 3, 4 if i == 0 else 2))
            setattr(self, f'block{i + 1}', nn.ModuleList([
                TransNeXtBlock(dims[i], heads[i], trained_q, cfg['window_size'], cfg['mlp_ratios'][i], qkv_bias,
                               drop_rate, attn_drop_rate, dpr[i][j], sr, is_extrapolation)
                for j in range(depths[i])]))
            setattr(self, f'norm{i + 1}', nn.LayerNorm(dims[i], eps=1e-6))
        self._freeze_stages()

    def _stage_pretrain(self, i):
        s = 2 ** (i + 2)
        return self.pretrain_size[0] // s, self.pretrain_size[1] // s

    def init_weights(self):
        if self.init_cfg is None:  # the official random init (training from scratch, tests)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    trunc_normal_(m.weight, std=0.02)
                elif isinstance(m, nn.Conv2d):  # He init over the fan-out
                    init_conv_fan_out_(m)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.ones_(m.weight)
                if isinstance(m, (nn.Linear, nn.Conv2d, nn.LayerNorm)) and m.bias is not None:
                    nn.init.zeros_(m.bias)
            return
        super().init_weights()

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.patch_embed1)
        for i in range(1, min(self.frozen_stages, self.num_stages) + 1):
            for name in ('patch_embed', 'block', 'norm'):
                freeze(getattr(self, f'{name}{i}'))

    def _cpb_inputs(self, i: int, hw, device):
        if self.is_extrapolation:
            sr = self.sr_ratios[i]
            key = (max(1, hw[0] // sr), max(1, hw[1] // sr))
            return relative_coords_cpb(hw, key, self._stage_pretrain(i), device)
        return tuple(getattr(self, f'{n}{i + 1}') for n in ('relative_coords_table', 'relative_index_h',
                                                              'relative_index_w'))

    def forward(self, x: torch.Tensor):
        B = x.shape[0]
        outs = []
        for i in range(self.num_stages):
            x, hw = getattr(self, f'patch_embed{i + 1}')(x)
            cpb = self._cpb_inputs(i, hw, x.device)
            for blk in getattr(self, f'block{i + 1}'):
                x = maybe_checkpoint(blk, x, hw, cpb, enabled=self.with_cp)
            x = getattr(self, f'norm{i + 1}')(x)
            x = x.reshape(B, *hw, -1).permute(0, 3, 1, 2).contiguous()
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


# ----------------------------------------------------------------------------- CUDA kernel path

class _SWQKRPB(torch.autograd.Function):
    """Local similarities + local bias with the official ``swattention`` kernel."""

    @staticmethod
    def forward(ctx, query, key, rpb, height, width, kernel_size):
        attn = _swattention.qk_rpb_forward(query, key, rpb, height, width, kernel_size, 128)
        ctx.save_for_backward(query, key)
        ctx.dims = height, width, kernel_size
        return attn

    @staticmethod
    def backward(ctx, grad):
        query, key = ctx.saved_tensors
        dq, dk, drpb = _swattention.qk_rpb_backward(grad.contiguous(), query, key, *ctx.dims, 128)
        return dq, dk, drpb, None, None, None


class _SWAV(torch.autograd.Function):
    """Local aggregation of values with the official ``swattention`` kernel."""

    @staticmethod
    def forward(ctx, attn, value, height, width, kernel_size):
        out = _swattention.av_forward(attn, value, height, width, kernel_size, 128)
        ctx.save_for_backward(attn, value)
        ctx.dims = height, width, kernel_size
        return out

    @staticmethod
    def backward(ctx, grad):
        attn, value = ctx.saved_tensors
        d_attn, d_value = _swattention.av_backward(grad.contiguous(), attn, value, *ctx.dims, 128)
        return d_attn, d_value, None, None, None


# ----------------------------------------------------------------------------- checkpoint conversion

def convert_transnext_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official TransNeXt checkpoint (ImageNet release: ``head`` dropped; Mask R-CNN /
    UperNet release: ``backbone.`` prefix stripped on load) to this module's names: the ConvGLU's
    ``dwconv.dwconv`` wrapper is flattened and derived position buffers are dropped."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith('head.') or k.startswith(('relative_pos_index', 'relative_coords_table')):
            continue
        if k.endswith(('seq_length_scale', 'padding_mask')):  # buffers of the classification code
            continue
        out[k.replace('.mlp.dwconv.dwconv.', '.mlp.dwconv.')] = v
    return out
