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
