"""Multi-scale deformable attention (Deformable DETR) on mmcv's op.

Each query predicts, per head, level and point, a sampling offset around its reference point and
an attention weight; the output is the weighted sum of the bilinearly sampled values. The sampling
itself is mmcv's: the compiled kernel (``MultiScaleDeformableAttnFunction``) for tensors on a device
mmcv was built for, otherwise mmcv's exact PyTorch implementation
(``multi_scale_deformable_attn_pytorch``, ``grid_sample`` with ``align_corners=False`` and zero
padding, the kernel's convention). No separate extension has to be compiled.
"""
import math
import warnings
from functools import lru_cache
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.ops.multi_scale_deform_attn import (MultiScaleDeformableAttnFunction,
                                              multi_scale_deformable_attn_pytorch)


@lru_cache(maxsize=1)
def _mmcv_has_kernel() -> bool:
    try:
        from mmcv.utils import ext_loader
        return hasattr(ext_loader.load_ext('_ext', ['ms_deform_attn_forward']), 'ms_deform_attn_forward')
    except Exception:  # mmcv built without CUDA ops
        return False


def _kernel_available(t: torch.Tensor) -> bool:
    return t.device.type == 'cuda' and _mmcv_has_kernel()


def ms_deform_attn(value: torch.Tensor, spatial_shapes: torch.Tensor, level_start_index: torch.Tensor,
                   sampling_locations: torch.Tensor, attention_weights: torch.Tensor,
                   im2col_step: int = 64, use_kernel: bool = None) -> torch.Tensor:
    """Sample and weight: ``value`` ``(B, N_in, heads, C_h)``, ``sampling_locations``
    ``(B, N_q, heads, levels, points, 2)`` in [0, 1] (x, y), ``attention_weights``
    ``(B, N_q, heads, levels, points)`` -> ``(B, N_q, heads * C_h)``.

    ``use_kernel=None`` picks mmcv's compiled kernel when the tensors are on CUDA and mmcv has it.
    """
    if use_kernel is None:
        use_kernel = _kernel_available(value)
    if use_kernel:
        # the kernel is fp32/fp16 only and wants contiguous inputs of one dtype
        dtype = value.dtype
        out = MultiScaleDeformableAttnFunction.apply(
            value.float().contiguous(), spatial_shapes, level_start_index,
            sampling_locations.float().contiguous(), attention_weights.float().contiguous(), im2col_step)
        return out.to(dtype)
    return multi_scale_deformable_attn_pytorch(value, spatial_shapes, sampling_locations, attention_weights)


def reference_points(shapes: Sequence[Tuple[int, int]], device=None) -> torch.Tensor:
    """Centres of the cells of each ``(H, W)`` grid, normalised to [0, 1] (x, y): ``(1, sum HW, 1, 2)``."""
    pts = []
    for H, W in shapes:
        y, x = torch.meshgrid(torch.linspace(0.5, H - 0.5, H, device=device) / H,
                              torch.linspace(0.5, W - 0.5, W, device=device) / W, indexing='ij')
        pts.append(torch.stack((x.reshape(-1), y.reshape(-1)), -1))
    return torch.cat(pts, 0)[None, :, None]


def level_inputs(shapes: Sequence[Tuple[int, int]], device=None) -> List[torch.Tensor]:
    """``spatial_shapes`` ``(L, 2)`` and ``level_start_index`` ``(L,)`` of flattened multi-level maps."""
    spatial_shapes = torch.as_tensor(list(shapes), dtype=torch.long, device=device)
    start = torch.cat((spatial_shapes.new_zeros(1), spatial_shapes.prod(1).cumsum(0)[:-1]))
    return [spatial_shapes, start]


class MSDeformAttn(nn.Module):
    """Multi-scale deformable cross-attention of ``query`` tokens into multi-level ``value`` tokens.

    Args:
        dim: channels of queries and values.
        num_levels, num_heads, num_points: levels sampled, heads, points per head and level.
        value_ratio: the value projection has ``dim * value_ratio`` channels (ViT-Adapter's
            ``deform_ratio``; 1.0 is plain Deformable DETR).
    Parameter names follow Deformable DETR (``sampling_offsets``, ``attention_weights``,
    ``value_proj``, ``output_proj``), as do the checkpoints of the models that use it.
    """

    def __init__(self, dim: int = 256, num_levels: int = 4, num_heads: int = 8, num_points: int = 4,
                 value_ratio: float = 1.0, im2col_step: int = 64):
        super().__init__()
        value_dim = int(dim * value_ratio)
        if dim % num_heads or value_dim % num_heads:
            raise ValueError(f'MSDeformAttn: dim {dim} and value channels {value_dim} (dim x value_ratio) '
                             f'must be divisible by num_heads={num_heads}')
        if (value_dim // num_heads) & (value_dim // num_heads - 1):
            warnings.warn('MSDeformAttn: channels per head are not a power of 2; the CUDA kernel is slower')
        self.num_levels, self.num_heads, self.num_points = num_levels, num_heads, num_points
        self.im2col_step = im2col_step
        self.sampling_offsets = nn.Linear(dim, num_heads * num_levels * num_points * 2)
        self.attention_weights = nn.Linear(dim, num_heads * num_levels * num_points)
        self.value_proj = nn.Linear(dim, value_dim)
        self.output_proj = nn.Linear(value_dim, dim)
        self.reset_parameters()

    def reset_parameters(self):
        # offsets start on a ring of directions, one per head, the k-th point k cells out
        nn.init.zeros_(self.sampling_offsets.weight)
        theta = torch.arange(self.num_heads, dtype=torch.float32) * (2.0 * math.pi / self.num_heads)
        grid = torch.stack([theta.cos(), theta.sin()], -1)
        grid = grid / grid.abs().max(-1, keepdim=True)[0]
        grid = grid.view(self.num_heads, 1, 1, 2).repeat(1, self.num_levels, self.num_points, 1)
        grid = grid * torch.arange(1, self.num_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.reshape(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(self, query: torch.Tensor, reference_points: torch.Tensor, value: torch.Tensor,
                spatial_shapes: torch.Tensor, level_start_index: torch.Tensor) -> torch.Tensor:
        """``query`` ``(B, N_q, C)``, ``reference_points`` ``(B or 1, N_q, levels, 2)`` in [0, 1],
        ``value`` ``(B, sum HW, C)`` -> ``(B, N_q, C)``."""
        B, Nq, _ = query.shape
        Nv = value.shape[1]
        if int(spatial_shapes.prod(1).sum()) != Nv:
            raise ValueError(f'MSDeformAttn: value has {Nv} tokens but spatial_shapes '
                             f'{spatial_shapes.tolist()} describe {int(spatial_shapes.prod(1).sum())}')
        L, Hh, P = self.num_levels, self.num_heads, self.num_points
        v = self.value_proj(value).view(B, Nv, Hh, -1)
        offsets = self.sampling_offsets(query).view(B, Nq, Hh, L, P, 2)
        weights = F.softmax(self.attention_weights(query).view(B, Nq, Hh, L * P), -1).view(B, Nq, Hh, L, P)
        normalizer = torch.stack([spatial_shapes[:, 1], spatial_shapes[:, 0]], -1).to(offsets.dtype)
        locations = (reference_points[:, :, None, :, None, :]
                     + offsets / normalizer[None, None, None, :, None, :])
        out = ms_deform_attn(v, spatial_shapes, level_start_index, locations, weights, self.im2col_step)
        return self.output_proj(out)
