from typing import Optional

import torch
import torch.nn as nn

from .shape import depthwise_conv_channels_last, map_to_tokens, tokens_to_map


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
        return map_to_tokens(depthwise_conv_channels_last(self.dwconv, tokens_to_map(x, (H, W))))

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
