from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .window import Size2, to_2tuple


class PatchEmbed(nn.Module):
    """Image -> tokens with a strided conv ``proj`` and an optional ``norm``.

    With ``kernel == stride`` (non-overlapping patches) the input is zero-padded at the bottom/right
    to a multiple of the stride, so no pixel is dropped. Returns tokens ``(B, H'*W', C)`` and
    ``(H', W')``.
    """

    def __init__(self, in_channels: int = 3, embed_dim: int = 96, patch_size: Size2 = 4,
                 stride: Optional[Size2] = None, padding: Size2 = 0, norm_layer=None):
        super().__init__()
        self.patch_size = to_2tuple(patch_size)
        self.stride = to_2tuple(stride if stride is not None else patch_size)
        self.proj = nn.Conv2d(in_channels, embed_dim, self.patch_size, self.stride, to_2tuple(padding))
        self.norm = norm_layer(embed_dim) if norm_layer is not None else None

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        if self.patch_size == self.stride:
            H, W = x.shape[-2:]
            ph, pw = (-H) % self.stride[0], (-W) % self.stride[1]
            if ph or pw:
                x = F.pad(x, (0, pw, 0, ph))
        x = self.proj(x)
        hw = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, hw


class PatchMerging(nn.Module):
    """2x2 neighbour concatenation + ``norm`` + linear ``reduction`` (Swin's downsampling).

    Input channels-last ``(B, H, W, C)``; odd H or W are zero-padded. The 4C channels are ordered
    as in the official Swin code: (0,0), (1,0), (0,1), (1,1) offsets in (row, col).
    """

    def __init__(self, dim: int, out_dim: Optional[int] = None, norm_layer=nn.LayerNorm):
        super().__init__()
        self.out_dim = out_dim or 2 * dim
        self.norm = norm_layer(4 * dim)
        self.reduction = nn.Linear(4 * dim, self.out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))
