"""Layout changes between tokens ``(B, H*W, C)`` and maps ``(B, C, H, W)``.

Both return views (no copy): the convs, norms and linears that follow accept strided inputs, and
a copy here is what made layout changes costly. Call ``.contiguous()`` only where the next op needs it.
"""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


def tokens_to_map(x: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
    """Tokens ``(B, H*W, C)`` -> map ``(B, C, H, W)`` (a view where the strides allow)."""
    H, W = hw
    if x.dim() != 3 or x.shape[1] != H * W:
        raise ValueError(f'tokens_to_map: expected tokens (B, {H}*{W}, C), got {tuple(x.shape)}')
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], H, W)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """Map ``(B, C, H, W)`` -> tokens ``(B, H*W, C)`` (a view)."""
    return x.flatten(2).transpose(1, 2)


def depthwise_conv_channels_last(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for a depth-wise ``conv`` on a channels-last map (e.g. ``tokens_to_map``'s view),
    keeping the result channels-last, so ``map_to_tokens`` of it is contiguous.

    A depth-wise weight ``(C, 1, k, k)`` in the default layout makes the backend convert the map to
    NCHW and back (two copies of the map in forward, more in backward). Its second dim has size 1,
    so the same weight restrided as channels-last is a view, and the conv then stays channels-last.
    Same arithmetic; other convs run unchanged."""
    w = conv.weight
    if w.shape[1] != 1 or conv.groups != x.shape[1] or not x.is_contiguous(memory_format=torch.channels_last):
        return conv(x)
    w = w.as_strided(w.shape, (w.shape[2] * w.shape[3], 1, w.shape[3], 1))
    return F.conv2d(x, w, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
