"""Multi-head self-attention through ``F.scaled_dot_product_attention``.

Position information (relative-position bias tables, shift masks, ...) enters as one additive
``bias`` tensor broadcastable to ``(B, heads, N_q, N_k)``, so fused kernels can be used whenever
the backend has one for additive masks.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


# Above this many attention weights (about 128 MB in fp32) the explicit CPU path would materialise
# too much; SDPA then chooses its own kernel.
_EXPLICIT_MAX_WEIGHTS = 1 << 25


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Optional[torch.Tensor] = None,
              dropout_p: float = 0.0, scale: Optional[float] = None, finite_bias: bool = True) -> torch.Tensor:
    """softmax(q k^T * scale + bias) v for ``(..., heads, N, head_dim)`` tensors.

    With an additive ``bias`` on the CPU, PyTorch's SDPA takes its math path, which adds a scan of
    the weights for fully masked (-inf) rows; for the window-sized sequences that carry a bias
    (Swin, Focal, GC ViT, DAT, ...) the plain ``softmax(q k^T + bias) v`` is 1.2-1.8x faster
    (fwd and fwd+bwd). ``finite_bias=False`` (a bias with -inf entries, e.g. removed keys) keeps SDPA,
    whose masked rows give zeros instead of NaN.
    """
    if bias is not None and bias.dtype != q.dtype:
        bias = bias.to(q.dtype)
    if (bias is not None and finite_bias and q.device.type == 'cpu'
            and q.numel() // q.shape[-1] * k.shape[-2] <= _EXPLICIT_MAX_WEIGHTS):
        s = q.shape[-1] ** -0.5 if scale is None else scale
        w = torch.softmax(torch.matmul(q * s, k.transpose(-2, -1)) + bias, dim=-1)
        if dropout_p > 0:
            w = F.dropout(w, p=dropout_p)
        return torch.matmul(w, v)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=scale)


class Attention(nn.Module):
    """Token self-attention: ``qkv`` projection, attention, output ``proj``.

    Args:
        dim: channels of the tokens.
        num_heads: attention heads; ``dim`` must divide by it.
        qkv_bias: bias in the ``qkv`` projection.
        qk_scale: override of the default ``head_dim ** -0.5``.
        attn_drop: dropout on the attention weights (training only).
        proj_drop: dropout after the output projection.
        proj_bias: bias in the output projection.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, qk_scale: Optional[float] = None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0, proj_bias: bool = True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim={dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.scale = qk_scale
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``x``: ``(B, N, C)``. ``bias``: additive, broadcastable to ``(B, heads, N, N)``; or
        ``(G, heads, N, N)`` with ``B % G == 0``, one bias per position inside consecutive groups of
        ``G`` sequences (e.g. the ``G`` windows of one image, each with its own shift mask), which
        avoids materialising the bias ``B // G`` times."""
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if bias is not None and bias.dim() == 4 and bias.shape[0] not in (1, B):
            G = bias.shape[0]
            if B % G:
                raise ValueError(f'bias groups {G} do not divide the batch of {B} sequences')
            q, k, v = (t.reshape(B // G, G, *t.shape[1:]) for t in (q, k, v))
        x = attention(q, k, v, bias, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale)
        x = x.reshape(B, self.num_heads, N, -1).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))
