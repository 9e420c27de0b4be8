"""Swin-style window self-attention with a learned relative-position bias (Swin, GC ViT's local blocks)."""
from typing import Optional

import torch
import torch.nn as nn

from .attention import Attention
from .pos_bias import gather_relative_bias, relative_position_index, relative_position_table_shape


class WindowAttention(Attention):
    """Window self-attention with a learned relative-position bias table.

    Input ``(B * num_windows, N, C)`` windows; ``mask`` an additive ``(num_windows, N, N)`` shift mask.
    """

    def __init__(self, dim, num_heads, window_size, qkv_bias=True, qk_scale=None, attn_drop=0.0,
                 proj_drop=0.0):
        super().__init__(dim, num_heads, qkv_bias, qk_scale, attn_drop, proj_drop)
        self.window_size = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros(relative_position_table_shape(window_size, num_heads)))
        self.register_buffer('relative_position_index', relative_position_index(window_size),
                             persistent=False)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        bias = gather_relative_bias(self.relative_position_bias_table, self.relative_position_index)
        bias = bias.unsqueeze(0) if mask is None else bias.unsqueeze(0) + mask.unsqueeze(1)
        return super().forward(x, bias)
