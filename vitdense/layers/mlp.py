from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mlp(nn.Module):
    """Token MLP: fc1 -> act -> drop -> fc2 -> drop."""

    def __init__(self, in_features: int, hidden_features: Optional[int] = None,
                 out_features: Optional[int] = None, act_layer=nn.GELU, drop: float = 0.0, bias: bool = True):
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.act = act_layer()
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, out_features, bias=bias)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))


class ConvMlp(nn.Module):
    """Conv-FFN on tokens: fc1 -> 3x3 depth-wise conv on the H x W grid -> act -> fc2 (PVTv2 style).

    ``forward(x, hw)`` takes tokens ``(B, N, C)`` and their grid size ``(H, W)``, or a list of
    grid sizes when ``x`` holds several flattened maps one after another (multi-level tokens, as in
    ViT-Adapter's extractor); the same depth-wise conv runs on each map.
    """

    def __init__(self, in_features: int, hidden_features: Optional[int] = None,
                 out_features: Optional[int] = None, act_layer=nn.GELU, drop: float = 0.0,
                 kernel_size: int = 3):
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.dwconv = nn.Conv2d(hidden_features, hidden_features, kernel_size, padding=kernel_size // 2,
                                groups=hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def _dwconv(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        # Tokens (B, N, C) viewed as a map are channels-last. A depth-wise weight (C, 1, k, k) in the
        # default layout makes the conv convert the map to NCHW and back (two copies of the widest
        # tensor of the block, and more in backward); restrided as channels-last (no copy: its
        # second dim has size 1) the conv stays channels-last and returns contiguous tokens.
        B = x.shape[0]
        conv = self.dwconv
        w = conv.weight
        w = w.as_strided(w.shape, (w.shape[2] * w.shape[3], 1, w.shape[3], 1))
        y = F.conv2d(x.transpose(1, 2).reshape(B, -1, H, W), w, conv.bias, conv.stride, conv.padding,
                     conv.dilation, conv.groups)
        return y.flatten(2).transpose(1, 2)

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        x = self.fc1(x)
        shapes = [tuple(s) for s in hw] if isinstance(hw[0], (tuple, list)) else [tuple(hw)]
        sizes = [h * w for h, w in shapes]
        if sum(sizes) != x.shape[1]:
            raise ValueError(f'ConvMlp: {x.shape[1]} tokens do not match the grid sizes {shapes}')
        if len(shapes) == 1:  # one map (PVTv2, Twins): no split/cat copy of the hidden tokens
            x = self._dwconv(x, *shapes[0])
        else:
            parts = x.split(sizes, dim=1)
            x = torch.cat([self._dwconv(p, h, w) for p, (h, w) in zip(parts, shapes)], dim=1)
        x = self.drop(self.act(x))
        return self.drop(self.fc2(x))
