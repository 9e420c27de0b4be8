"""Multi-head self-attention through ``F.scaled_dot_product_attention``.

Position information (relative-position bias tables, shift masks, ...) enters as one additive
``bias`` tensor broadcastable to ``(B, heads, N_q, N_k)``, so fused kernels can be used whenever
the backend has one for additive masks.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: Optional[torch.Tensor] = None,
              dropout_p: float = 0.0, scale: Optional[float] = None) -> torch.Tensor:
    """softmax(q k^T * scale + bias) v for ``(B, heads, N, head_dim)`` tensors."""
    if bias is not None and bias.dtype != q.dtype:
        bias = bias.to(q.dtype)
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
