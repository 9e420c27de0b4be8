"""The Swin Transformer block (shifted-window attention + MLP), shared by Swin and the families
built on it (Agent-Swin's window-attention blocks)."""
import torch
import torch.nn as nn

from .drop import DropPath
from .mlp import Mlp
from .window import pad_to_multiple, shifted_window_mask, window_partition, window_reverse
from .window_attention import WindowAttention


class SwinBlock(nn.Module):
    """norm1 -> (shifted) window attention -> residual; norm2 -> MLP -> residual."""

    def __init__(self, dim, num_heads, window_size=7, shift=False, mlp_ratio=4.0, qkv_bias=True,
                 qk_scale=None, drop=0.0, attn_drop=0.0, drop_path=0.0, norm_layer=nn.LayerNorm,
                 shift_small_maps=True):
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.shift_small_maps = shift_small_maps
        self.norm1 = norm_layer(dim)
        self.attn = WindowAttention(dim, num_heads, window_size, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        H, W = hw
        B, L, C = x.shape
        ws = self.window_size
        sh = sw = self.shift_size
        if not self.shift_small_maps:  # classification rule: no shift along an axis within one window
            sh, sw = (0 if H <= ws else sh), (0 if W <= ws else sw)
        y = pad_to_multiple(self.norm1(x).view(B, H, W, C), ws)
        Hp, Wp = y.shape[1:3]
        mask = None
        if sh or sw:
            y = torch.roll(y, shifts=(-sh, -sw), dims=(1, 2))
            mask = shifted_window_mask(Hp, Wp, ws, (sh, sw), device=y.device, dtype=y.dtype)
        y = window_reverse(self.attn(window_partition(y, ws), mask), ws, Hp, Wp)
        if sh or sw:
            y = torch.roll(y, shifts=(sh, sw), dims=(1, 2))
        y = y[:, :H, :W].reshape(B, L, C)
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x)))
