from typing import Optional

import torch
import torch.nn as nn


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

    ``forward(x, hw)`` takes tokens ``(B, H*W, C)`` and their grid size.
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

    def forward(self, x: torch.Tensor, hw) -> torch.Tensor:
        B, N, _ = x.shape
        H, W = hw
        x = self.fc1(x)
        x = self.dwconv(x.transpose(1, 2).reshape(B, -1, H, W)).flatten(2).transpose(1, 2)
        x = self.drop(self.act(x))
        return self.drop(self.fc2(x))
