"""Layout changes between tokens ``(B, H*W, C)`` and maps ``(B, C, H, W)``.

Both return views (no copy): the convs, norms and linears that follow accept strided inputs, and
a copy here is what made layout changes costly. Call ``.contiguous()`` only where the next op needs it.
"""
from typing import Sequence

import torch


def tokens_to_map(x: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
    """Tokens ``(B, H*W, C)`` -> map ``(B, C, H, W)`` (a view where the strides allow)."""
    H, W = hw
    if x.dim() != 3 or x.shape[1] != H * W:
        raise ValueError(f'tokens_to_map: expected tokens (B, {H}*{W}, C), got {tuple(x.shape)}')
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], H, W)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """Map ``(B, C, H, W)`` -> tokens ``(B, H*W, C)`` (a view)."""
    return x.flatten(2).transpose(1, 2)
