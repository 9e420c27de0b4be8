"""Cosine attention with a log-spaced continuous position bias (Swin V2 style), generalised to
attention between two grids of different sizes (GRL's windows and their down-sampled anchors).

A query grid of ``(qh, qw)`` tokens attends to a key grid of ``(kh, kw)`` tokens, both indexed from
(0, 0) in their own grid units. The relative offset ``q - k`` lies in ``[-(k - 1), q - 1]`` per axis,
so one table of ``(qh + kh - 1) x (qw + kw - 1)`` entries covers every pair; a small MLP maps each
entry's log-spaced coordinates to one bias per head, so the bias works for any window size.
"""
import math
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attention
from .window import shifted_window_labels

__all__ = ['cpb_coords_table', 'cpb_index', 'grid_shift_mask', 'CosineAttentionCPB']


@lru_cache(maxsize=64)
def _coords_table(window: Tuple[int, int], anchor: Tuple[int, int]) -> torch.Tensor:
    axes = []
    for w, a in zip(window, anchor):
        centre = (w - a) // 2  # the anchor grid sits centred on the window grid
        lo, hi = -(a - 1) - centre, (w - 1) - centre
        axes.append(torch.arange(lo, hi + 1, dtype=torch.float32) / max(hi, 1))
    table = torch.stack(torch.meshgrid(*axes, indexing='ij'), dim=-1) * 8  # spread to [-8, 8]
    # log spacing: fine resolution for near neighbours, compressed for far ones
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)


def cpb_coords_table(window: Sequence[int], anchor: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Log-spaced relative coordinates ``(wh + ah - 1, ww + aw - 1, 2)`` for attention between a
    ``window`` grid and an ``anchor`` grid (defaults to the window itself: plain window attention).
    The same table serves both directions (window->anchor and anchor->window)."""
    window = tuple(int(s) for s in window)
    anchor = window if anchor is None else tuple(int(s) for s in anchor)
    return _coords_table(window, anchor)


@lru_cache(maxsize=64)
def _index(query: Tuple[int, int], key: Tuple[int, int]) -> torch.Tensor:
    def grid(size):
        ys, xs = torch.meshgrid(torch.arange(size[0]), torch.arange(size[1]), indexing='ij')
        return torch.stack([ys, xs]).flatten(1)

    rel = grid(query)[:, :, None] - grid(key)[:, None, :]  # (2, Nq, Nk)
    row = rel[0] + key[0] - 1
    col = rel[1] + key[1] - 1
    return row * (query[1] + key[1] - 1) + col


def cpb_index(query: Sequence[int], key: Sequence[int]) -> torch.Tensor:
    """``(Nq, Nk)`` flat index into :func:`cpb_coords_table` for every query/key token pair."""
    return _index(tuple(int(s) for s in query), tuple(int(s) for s in key))


@lru_cache(maxsize=64)
def _grid_mask(size, window, shift, anchor_size, anchor_window, anchor_shift, anchor_first):
    q = shifted_window_labels(*size, window, shift)
    k = shifted_window_labels(*anchor_size, anchor_window, anchor_shift)
    if anchor_first:
        q, k = k, q
    return (q[:, :, None] != k[:, None, :]).float() * -100.0


def grid_shift_mask(size, window, shift, down: int = 1, anchor_first: bool = False) -> torch.Tensor:
    """Additive mask ``(num_windows, Nq, Nk)`` for a map of ``size`` rolled by ``-shift`` and cut
    into ``window``s, attending to (or from, ``anchor_first``) its anchor map, the same map
    down-sampled by ``down`` and cut into ``window // down`` windows (``down=1``: plain shifted
    window attention). Pairs that came from different image regions get -100."""
    size, window, shift = (tuple(int(v) for v in t) for t in (size, window, shift))
    a_size = tuple(s // down for s in size)
    a_window = tuple(w // down for w in window)
    a_shift = tuple(s // down for s in shift)
    return _grid_mask(size, window, shift, a_size, a_window, a_shift, anchor_first)


class CosineAttentionCPB(nn.Module):
    """Scaled cosine attention plus ``16 * sigmoid(cpb_mlp(table))`` position bias.

    ``logit_scale`` is a learnable per-head temperature (clamped at 100). ``cpb_mlp`` maps the 2-d
    log-spaced coordinates to one logit per head. Attention runs through SDPA: the temperature is
    folded into the normalised queries and the bias (plus the shift mask) is the additive mask.
    """

    def __init__(self, num_heads: int, hidden: int = 512):
        super().__init__()
        self.num_heads = num_heads
        self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(num_heads, 1, 1)))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(inplace=True),
                                     nn.Linear(hidden, num_heads, bias=False))

    def position_bias(self, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """``(heads, Nq, Nk)`` bias from the coordinate table and the pair index."""
        bias = self.cpb_mlp(table).view(-1, self.num_heads)
        bias = bias[index.reshape(-1)].view(*index.shape, self.num_heads).permute(2, 0, 1)
        return 16 * torch.sigmoid(bias)

    def forward(self, q, k, v, table, index, mask: Optional[torch.Tensor] = None,
                attn_drop: float = 0.0) -> torch.Tensor:
        """``q``: ``(B*nW, heads, Nq, d)``, ``k``/``v``: ``(B*nW, heads, Nk, d)``; ``mask``:
        ``(nW, Nq, Nk)`` for windows that are consecutive per image. Returns ``(B*nW, heads, Nq, d)``."""
        scale = torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        q = F.normalize(q, dim=-1) * scale
        k = F.normalize(k, dim=-1)
        bias = self.position_bias(table.to(q.device, q.dtype), index.to(q.device)).unsqueeze(0)
        Bn, h, Nq, d = q.shape
        if mask is not None:
            nW = mask.shape[0]
            bias = bias + mask.to(q.device, q.dtype).unsqueeze(1)  # (nW, heads, Nq, Nk)
            q, k, v = (t.reshape(Bn // nW, nW, h, t.shape[2], d) for t in (q, k, v))
        out = attention(q, k, v, bias, dropout_p=attn_drop if self.training else 0.0, scale=1.0)
        return out.reshape(Bn, h, Nq, d)
