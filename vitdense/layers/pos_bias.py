"""Relative position bias (Swin-style tables indexed by the relative offset of two tokens)."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .window import Size2, to_2tuple


def relative_position_index(window_size: Size2) -> torch.Tensor:
    """``(N, N)`` long tensor, N = wh * ww: the row of the bias table each token pair reads."""
    wh, ww = to_2tuple(window_size)
    coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # (N, N, 2)
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    return rel[:, :, 0] * (2 * ww - 1) + rel[:, :, 1]


def relative_position_table_shape(window_size: Size2, num_heads: int) -> Tuple[int, int]:
    wh, ww = to_2tuple(window_size)
    return (2 * wh - 1) * (2 * ww - 1), num_heads


def gather_relative_bias(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Table ``((2wh-1)(2ww-1), heads)`` and index ``(N, N)`` -> bias ``(heads, N, N)``."""
    N = index.shape[0]
    return table[index.reshape(-1)].reshape(N, N, -1).permute(2, 0, 1).contiguous()


def resize_relative_position_table(table: torch.Tensor, new_len: int) -> torch.Tensor:
    """Bicubic resize of a square ``(L, heads)`` table to ``(new_len, heads)``, for loading weights
    trained with another window size (e.g. a 384px checkpoint with window 12 into window 7)."""
    old_len, heads = table.shape
    if old_len == new_len:
        return table
    s_old, s_new = int(round(old_len ** 0.5)), int(round(new_len ** 0.5))
    if s_old * s_old != old_len or s_new * s_new != new_len:
        raise ValueError(f'only square tables can be resized, got {old_len} -> {new_len} rows')
    grid = table.T.reshape(1, heads, s_old, s_old).float()
    grid = F.interpolate(grid, size=(s_new, s_new), mode='bicubic', align_corners=False)
    return grid.reshape(heads, new_len).T.to(table.dtype)


class RelativePositionBias(nn.Module):
    """Learned bias table plus its (non-persistent) index; ``forward()`` gives ``(heads, N, N)``."""

    def __init__(self, window_size: Size2, num_heads: int):
        super().__init__()
        self.window_size = to_2tuple(window_size)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(relative_position_table_shape(window_size, num_heads)))
        self.register_buffer('relative_position_index', relative_position_index(window_size), persistent=False)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self) -> torch.Tensor:
        return gather_relative_bias(self.relative_position_bias_table, self.relative_position_index)
