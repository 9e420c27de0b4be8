"""2D neighborhood attention (Hassani et al., NAT) in plain PyTorch, with NATTEN's exact semantics.

Every query attends to the ``kernel_size x kernel_size`` keys around it (every ``dilation``-th one).
At the borders the window is not padded but shifted inwards, so each query always sees
``kernel_size ** 2`` real keys; the relative-position bias ``rpb`` of shape
``(heads, 2k - 1, 2k - 1)`` is read at the key's offset from the query. Window and bias starts
follow NATTEN's ``get_window_start`` / ``get_pb_start`` (natten 0.14, ``natten_cpu_commons.h``),
dilated windows included.

The pure-PyTorch path runs on any device: for dilation 1 it attends from tiles of queries to the
keys their windows cover (regular matrix products, masked outside each window); dilated windows
gather every query's window (memory ~ ``k * k`` times the key map). When NATTEN is installed and
the tensors are on a GPU, its fused kernels are used instead (``use_kernel=None``, the default); both give the same result.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def natten_window_starts(length: int, kernel_size: int, dilation: int = 1,
                         device=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per position ``i`` of an axis of ``length``: the first key index of its window and the
    first row of the bias table it reads (NATTEN's rules). ``length >= kernel_size * dilation``."""
    if length < kernel_size * dilation:
        raise ValueError(f'neighborhood attention needs an axis of at least kernel_size x dilation = '
                         f'{kernel_size * dilation}, got {length}; pad the map first')
    i = torch.arange(length, device=device)
    nb = kernel_size // 2
    if dilation == 1:
        start = (i - nb).clamp(0, length - kernel_size)
        bias = nb + (i < nb) * (nb - i) + (i + nb >= length) * (length - i - 1 - nb)
        return start, bias
    imodd = i % dilation
    a = (length // dilation) * dilation
    b = length - a
    near_end = torch.where(imodd < b, length - b + imodd - 2 * nb * dilation,
                           a + imodd - kernel_size * dilation)
    start = torch.where(i - nb * dilation < 0, imodd,
                        torch.where(i + nb * dilation >= length, near_end, i - nb * dilation))
    bias = torch.where(i - nb * dilation < 0, kernel_size - 1 - i // dilation,
                       torch.where(i + nb * dilation >= length, (length - i - 1) // dilation,
                                   torch.full_like(i, nb)))
    return start, bias


def _window_indices(H: int, W: int, kernel_size: int, dilation: int, device):
    """Flat ``(H * W * k * k)`` index of every query's keys in the row-major map, and the bias-table
    rows ``(H, k)`` and columns ``(W, k)`` they read."""
    steps = torch.arange(kernel_size, device=device)
    rs, rb = natten_window_starts(H, kernel_size, dilation, device)
    cs, cb = natten_window_starts(W, kernel_size, dilation, device)
    rows = rs[:, None] + steps * dilation  # (H, k) key rows of each query row
    cols = cs[:, None] + steps * dilation  # (W, k)
    flat = (rows[:, None, :, None] * W + cols[None, :, None, :]).reshape(-1)  # (H, W, k, k)
    return flat, rb[:, None] + steps, cb[:, None] + steps


def _gather_windows(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``(B, h, H, W, d)`` -> ``(B, h, H, W, k*k, d)``: each position's neighborhood (one
    ``index_select``, whose backward is a cheap ``index_add``)."""
    B, h, H, W, d = t.shape
    return t.reshape(B, h, H * W, d).index_select(2, index).reshape(B, h, H, W, -1, d)


def neighborhood_attention_2d(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel_size: int,
                              dilation: int = 1, rpb: Optional[torch.Tensor] = None,
                              attn_drop: float = 0.0, training: bool = False,
                              use_kernel: Optional[bool] = None) -> torch.Tensor:
    """softmax(q k^T + rpb) v over each query's neighborhood.

    ``q`` (already scaled), ``k``, ``v``: ``(B, heads, H, W, head_dim)`` with ``H, W >= kernel_size
    * dilation``. Returns ``(B, heads, H, W, head_dim)``. ``use_kernel``: None uses NATTEN when it
    is installed and the input is on a GPU, False never, True requires it.
    """
    ops = _natten_ops() if use_kernel is not False else None
    if use_kernel and ops is None:
        raise RuntimeError('use_kernel=True needs the natten package (NATTEN), which is not importable')
    if ops is not None and (use_kernel or q.is_cuda):
        qk, av = ops
        attn = qk(q, k, rpb, kernel_size, dilation).softmax(dim=-1)
        attn = F.dropout(attn, attn_drop, training)
        return av(attn, v, kernel_size, dilation)
    if dilation == 1:
        return _tiled_neighborhood_attention(q, k, v, kernel_size, rpb, attn_drop, training)
    return _gathered_neighborhood_attention(q, k, v, kernel_size, dilation, rpb, attn_drop, training)


def _gathered_neighborhood_attention(q, k, v, kernel_size, dilation, rpb, attn_drop, training):
    """Any dilation: every query's window gathered, one ``(1, k*k)`` product per query."""
    H, W = q.shape[2:4]
    index, brows, bcols = _window_indices(H, W, kernel_size, dilation, q.device)
    attn = (q.unsqueeze(-2) @ _gather_windows(k, index).transpose(-1, -2)).squeeze(-2)  # (B,h,H,W,kk)
    if rpb is not None:
        bias = rpb[:, brows[:, None, :, None], bcols[None, :, None, :]]  # (h, H, W, k, k)
        attn = attn + bias.reshape(1, rpb.shape[0], H, W, -1).to(attn.dtype)
    attn = F.dropout(attn.softmax(dim=-1), attn_drop, training)
    return (attn.unsqueeze(-2) @ _gather_windows(v, index)).squeeze(-2)


# Query tiles of TILE x TILE positions for the tiled path (7x7 windows, fwd+bwd on CPU at 32-200 px
# maps: 7-9 were best among 6-12, 2-7x faster than the gather path).
TILE = 8
_TILE_PLANS = {}


def _axis_tiles(length: int, kernel_size: int, tile: int, device):
    """One axis of the tiled path: query tiles ``[t * tile, (t + 1) * tile)`` (the last one padded),
    each with one key range ``[first[t], first[t] + span)`` that holds every window of its queries
    (starts grow by at most one per position, so ``tile + kernel_size - 1`` keys suffice). Returns
    ``first (n,)``, ``span``, ``inside (n, tile, span)`` (key in the query's window; padded queries
    see every key, their output is cropped) and ``bias (n, tile, span)`` (bias-table row of that
    key, valid where ``inside``)."""
    start, bias_start = natten_window_starts(length, kernel_size, 1, device)
    n = -(-length // tile)
    span = min(length, tile + kernel_size - 1)
    pos = torch.arange(n * tile, device=device)
    real = pos < length
    pos = pos.clamp(max=length - 1)
    first = start[pos.reshape(n, tile)[:, 0]].clamp(max=length - span)
    key = first[:, None, None] + torch.arange(span, device=device)  # (n, 1, span)
    qs = start[pos].reshape(n, tile, 1)
    inside = ((key >= qs) & (key < qs + kernel_size)) | ~real.reshape(n, tile, 1)
    bias = (bias_start[pos].reshape(n, tile, 1) + key - qs).clamp(0, 2 * kernel_size - 2)
    return first, span, inside, bias


def _tile_plan(H: int, W: int, kernel_size: int, tile: int, device):
    key = (H, W, kernel_size, tile, str(device))
    if key not in _TILE_PLANS:
        if len(_TILE_PLANS) > 64:
            _TILE_PLANS.clear()
        _TILE_PLANS[key] = (_axis_tiles(H, kernel_size, min(tile, H), device),
                            _axis_tiles(W, kernel_size, min(tile, W), device))
    return _TILE_PLANS[key]


def _tiles(t: torch.Tensor, first_r, first_c, span_r: int, span_c: int) -> torch.Tensor:
    """``(B, h, H, W, d)`` -> ``(B, h, nr * nc, span_r * span_c, d)``: each tile's key range."""
    B, h, H, W, d = t.shape
    steps_r = (first_r[:, None] + torch.arange(span_r, device=t.device)).reshape(-1)
    steps_c = (first_c[:, None] + torch.arange(span_c, device=t.device)).reshape(-1)
    t = t.index_select(2, steps_r).index_select(3, steps_c)
    nr, nc = len(first_r), len(first_c)
    return t.reshape(B, h, nr, span_r, nc, span_c, d).permute(0, 1, 2, 4, 3, 5, 6).reshape(
        B, h, nr * nc, span_r * span_c, d)


def _tiled_neighborhood_attention(q, k, v, kernel_size, rpb, attn_drop, training, tile=None):
    """Neighborhood attention (dilation 1) as dense attention of each ``tile x tile`` block of
    queries over the keys its windows cover, with the keys outside a query's window masked. This
    does ~4x the multiply-adds of the window gather for 7x7 windows, but as regular matrix
    products, and copies the keys ~3x instead of ``kernel_size ** 2`` times: several times faster
    on CPU. Same result as the gather path up to rounding."""
    B, h, H, W, d = q.shape
    tile = tile or TILE
    (fr, sr, in_r, b_r), (fc, sc, in_c, b_c) = _tile_plan(H, W, kernel_size, tile, q.device)
    tr, tc = in_r.shape[1], in_c.shape[1]
    nr, nc = len(fr), len(fc)
    inside = (in_r[:, None, :, None, :, None] & in_c[None, :, None, :, None, :])  # (nr,nc,tr,tc,sr,sc)
    inside = inside.reshape(nr * nc, tr * tc, sr * sc)
    masked = torch.finfo(q.dtype).min / 2
    if rpb is None:
        bias = torch.zeros((), dtype=q.dtype, device=q.device)
    else:
        bias = rpb[:, b_r[:, None, :, None, :, None], b_c[None, :, None, :, None, :]]  # (h,nr,nc,tr,tc,sr,sc)
        bias = bias.to(q.dtype).reshape(rpb.shape[0], nr * nc, tr * tc, sr * sc)
    bias = torch.where(inside, bias, masked)
    qt = F.pad(q, (0, 0, 0, nc * tc - W, 0, nr * tr - H))
    qt = qt.reshape(B, h, nr, tr, nc, tc, d).permute(0, 1, 2, 4, 3, 5, 6).reshape(B, h, nr * nc, tr * tc, d)
    attn = qt @ _tiles(k, fr, fc, sr, sc).transpose(-1, -2) + bias
    attn = F.dropout(attn.softmax(dim=-1), attn_drop, training)
    out = attn @ _tiles(v, fr, fc, sr, sc)  # (B, h, nr*nc, tr*tc, d)
    out = out.reshape(B, h, nr, nc, tr, tc, d).permute(0, 1, 2, 4, 3, 5, 6).reshape(B, h, nr * tr, nc * tc, d)
    return out[:, :, :H, :W]


_NATTEN_OPS = []


def _natten_ops():
    """NATTEN's (qk+rpb, av) functions, or None when natten is not installed."""
    if not _NATTEN_OPS:
        ops = None
        try:
            from natten.functional import na2d_av, na2d_qk  # natten >= 0.15

            def qk(q, k, rpb, ks, dil):
                return na2d_qk(q, k, ks, dil, rpb=rpb)

            ops = (qk, na2d_av)
        except ImportError:
            try:
                from natten.functional import natten2dav, natten2dqkrpb  # natten 0.14 (DAT++'s)
                ops = (natten2dqkrpb, natten2dav)
            except ImportError:
                ops = None
        _NATTEN_OPS.append(ops)
    return _NATTEN_OPS[0]


class NeighborhoodAttention2d(nn.Module):
    """NATTEN's ``NeighborhoodAttention2D`` module: ``qkv`` projection, neighborhood attention with
    the ``rpb`` bias table, output ``proj``; channels-last input ``(B, H, W, C)``.

    A map smaller than ``kernel_size * dilation`` is zero-padded at the bottom/right to that size
    before the projection and cropped afterwards, as NATTEN and DAT++ do.
    """

    def __init__(self, dim: int, num_heads: int, kernel_size: int, dilation: int = 1, bias: bool = True,
                 qkv_bias: bool = True, qk_scale: Optional[float] = None, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim={dim} is not divisible by num_heads={num_heads}')
        if kernel_size < 2 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be an odd number > 1, got {kernel_size}')
        if dilation < 1:
            raise ValueError(f'dilation must be >= 1, got {dilation}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = qk_scale or self.head_dim ** -0.5
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.window_size = kernel_size * dilation
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        if bias:
            self.rpb = nn.Parameter(torch.zeros(num_heads, 2 * kernel_size - 1, 2 * kernel_size - 1))
            nn.init.trunc_normal_(self.rpb, std=0.02, mean=0.0, a=-2.0, b=2.0)
        else:
            self.register_parameter('rpb', None)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.use_kernel: Optional[bool] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H0, W0, C = x.shape
        pad_b, pad_r = max(0, self.window_size - H0), max(0, self.window_size - W0)
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        H, W = x.shape[1:3]
        qkv = self.qkv(x).reshape(B, H, W, 3, self.num_heads, self.head_dim).permute(3, 0, 4, 1, 2, 5)
        q, k, v = qkv.unbind(0)
        x = neighborhood_attention_2d(q * self.scale, k, v, self.kernel_size, self.dilation, self.rpb,
                                      self.attn_drop, self.training, self.use_kernel)
        x = x.permute(0, 2, 3, 1, 4).reshape(B, H, W, C)[:, :H0, :W0]
        return self.proj_drop(self.proj(x))

    def extra_repr(self) -> str:
        return (f'head_dim={self.head_dim}, num_heads={self.num_heads}, kernel_size={self.kernel_size}, '
                f'dilation={self.dilation}, rel_pos_bias={self.rpb is not None}')
