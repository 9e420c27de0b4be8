import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel axis of a ``(B, C, H, W)`` map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def batchnorms_to_eval(module: nn.Module) -> None:
    """Put every BatchNorm (BN, SyncBN, subclasses) of ``module`` in eval mode: running statistics
    are used and no longer updated (a backbone's ``norm_eval=True`` under ``train()``); affine
    parameters keep their ``requires_grad``."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
