"""Window partition / reverse, padding to window multiples and the shifted-window mask.

Feature maps are channels-last ``(B, H, W, C)``. Windows may be rectangular: ``window_size`` is an
int or an ``(h, w)`` pair.
"""
from functools import lru_cache
from typing import Tuple, Union

import torch
import torch.nn.functional as F

Size2 = Union[int, Tuple[int, int]]


def to_2tuple(x: Size2) -> Tuple[int, int]:
    return (x, x) if isinstance(x, int) else (int(x[0]), int(x[1]))


def pad_to_multiple(x: torch.Tensor, window_size: Size2) -> torch.Tensor:
    """Zero-pad a ``(B, H, W, C)`` map at the bottom/right so H and W divide by the window."""
    wh, ww = to_2tuple(window_size)
    H, W = x.shape[1:3]
    pad_h, pad_w = (-H) % wh, (-W) % ww
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    return x


def window_partition(x: torch.Tensor, window_size: Size2) -> torch.Tensor:
    """``(B, H, W, C)`` with H, W multiples of the window -> ``(B * num_windows, wh * ww, C)``."""
    wh, ww = to_2tuple(window_size)
    B, H, W, C = x.shape
    if H % wh or W % ww:
        raise ValueError(f'feature map {H}x{W} is not a multiple of window {wh}x{ww}; '
                         'call pad_to_multiple first')
    x = x.view(B, H // wh, wh, W // ww, ww, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, wh * ww, C)


def window_reverse(windows: torch.Tensor, window_size: Size2, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * num_windows, wh * ww, C)`` -> ``(B, H, W, C)``."""
    wh, ww = to_2tuple(window_size)
    C = windows.shape[-1]
    x = windows.view(-1, H // wh, W // ww, wh, ww, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, H, W, C)


def _region_labels(length: int, window: int, shift: int) -> torch.Tensor:
    """Which of the (up to) three regions of an axis rolled by ``-shift`` each position came from."""
    label = torch.zeros(length, dtype=torch.long)
    if shift > 0:
        label[length - window:length - shift] = 1
        label[length - shift:] = 2
    return label


def shifted_window_labels(H: int, W: int, window_size: Size2, shift_size: Size2) -> torch.Tensor:
    """Region label ``(num_windows, wh * ww)`` of every token of the windows of an ``H x W`` map
    (already padded) rolled by ``-shift_size``: tokens with different labels came from different
    image regions and must not attend to each other. A 0 shift gives one region on that axis."""
    wh, ww = to_2tuple(window_size)
    sh, sw = to_2tuple(shift_size)
    labels = _region_labels(H, wh, sh)[:, None] * 3 + _region_labels(W, ww, sw)[None, :]
    return window_partition(labels[None, :, :, None], (wh, ww)).squeeze(-1)


@lru_cache(maxsize=32)
def _shift_mask(H: int, W: int, wh: int, ww: int, sh: int, sw: int, device: torch.device,
                dtype: torch.dtype, fill: float) -> torch.Tensor:
    win = shifted_window_labels(H, W, (wh, ww), (sh, sw)).to(device)
    return (win.unsqueeze(1) != win.unsqueeze(2)).to(dtype) * fill


def shifted_window_mask(H: int, W: int, window_size: Size2, shift_size: Size2, device=None,
                        dtype=torch.float32, fill: float = -100.0) -> torch.Tensor:
    """Additive mask ``(num_windows, N, N)`` for a map of ``H x W`` (already padded) that was rolled
    by ``-shift_size``: tokens that came from different image regions get ``fill`` (Swin's -100).
    One of the two shifts may be 0 (no roll along that axis).
    """
    wh, ww = to_2tuple(window_size)
    sh, sw = to_2tuple(shift_size)
    if not (0 <= sh < wh and 0 <= sw < ww and sh + sw > 0):
        raise ValueError(f'shift {sh}x{sw} must lie inside the window {wh}x{ww} and not be 0x0')
    return _shift_mask(H, W, wh, ww, sh, sw, torch.device(device or 'cpu'), dtype, float(fill))
