"""Re-parameterization helpers: fold BatchNorm into the conv before it, and express a 1x1 conv or an
identity (a BatchNorm alone) as a ``k x k`` kernel, so parallel train-time branches sum into one conv.

Every family with such branches (RepVGG, RepNeXt, UniRepLKNet, ...) has ``switch_to_deploy()``
(mmpretrain's convention); ``vitdense.utils.reparam.reparameterize_model`` calls it on a whole model.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn


def fuse_conv_bn(weight: torch.Tensor, bias: Optional[torch.Tensor], bn: nn.Module
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of ``bn(conv(x))`` for a conv of ``weight`` (out channels first) and ``bias``
    (``None`` for a conv without one); ``bn`` in eval mode (running statistics)."""
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    mean = bn.running_mean if bias is None else bn.running_mean - bias
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), bn.bias - mean * scale


def pad_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad a centred ``(O, I, k, k)`` kernel to ``size x size`` (``size - k`` even)."""
    p = (size - kernel.shape[-1]) // 2
    return nn.functional.pad(kernel, (p, p, p, p)) if p else kernel


def identity_kernel(channels: int, groups: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """The ``(C, C // groups, size, size)`` kernel of a grouped conv that returns its input."""
    kernel = like.new_zeros(channels, channels // groups, size, size)
    idx = torch.arange(channels, device=like.device)
    kernel[idx, idx % (channels // groups), size // 2, size // 2] = 1
    return kernel


class ConvBN(nn.Sequential):
    """``conv (no bias) -> BatchNorm`` (``conv``, ``bn``); ``fused()`` returns the equal biased conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def fused_kernel(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return fuse_conv_bn(self.conv.weight, None, self.bn)

    @torch.no_grad()
    def fused(self) -> nn.Conv2d:
        c = self.conv
        out = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, groups=c.groups,
                        bias=True).to(c.weight)
        out.weight.copy_(self.fused_kernel()[0])
        out.bias.copy_(self.fused_kernel()[1])
        return out
