"""The random initialisation most official transformer backbones share (used when a backbone is
built with ``init_cfg=None``, i.e. trained from scratch or in tests)."""
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_


def init_linear_and_layernorm_(module: nn.Module, std: float = 0.02) -> None:
    """Truncated-normal(``std``) weights and zero biases for every ``nn.Linear``; weight 1, bias 0
    for every ``nn.LayerNorm`` (subclasses included) of ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def init_conv_fan_out_(conv: nn.Module) -> None:
    """He-normal over the fan-out, N(0, sqrt(2 / fan_out)), and a zero bias for one conv
    (``nn.Conv2d`` / ``nn.ConvTranspose2d``), as the official PVT-derived backbones do."""
    fan_out = conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels // conv.groups
    nn.init.normal_(conv.weight, 0, (2.0 / fan_out) ** 0.5)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
