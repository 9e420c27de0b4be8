"""RepVGG (Ding et al., CVPR 2021, arXiv 2101.03697, "RepVGG: Making VGG-style ConvNets Great
Again"), the dense-prediction form of the official DingXiaoH/RepVGG ``repvgg.py``.

A plain stack of ``3x3 conv -> ReLU`` layers at inference. While training, every layer is three
parallel branches summed before the ReLU: ``3x3 conv -> BN``, ``1x1 conv -> BN`` and, where input and
output have the same shape, a BatchNorm alone (the identity branch). ``switch_to_deploy()`` folds
the three into one biased ``3x3`` conv (equal outputs, fewer parameters); ``deploy=True`` builds that
form directly. The stem is one such layer at stride 2 (``min(64, 64 a)`` channels), then four
stages of ``(64 a, 128 a, 256 a, 512 b)`` channels whose first layer has stride 2, so stage ``i``
outputs at stride ``4 * 2**i``. The ``g2`` / ``g4`` variants use 2 / 4 conv groups in every second
layer of the network (layers 2, 4, ..., 26 counting from the first layer after the stem, the
official ``optional_groupwise_layers``). ``D2se`` adds a squeeze-excitation (``C // 16`` channels)
to every layer, after the branch sum and before the ReLU.

Any input size: each stride-2 ``3x3`` conv pads by 1, so stage ``i`` has ``ceil(H / 2**(i+2))``
rows, with no pixel dropped. One deliberate difference: the official squeeze-excitation pools with
``avg_pool2d(kernel_size=W)`` (a global mean only on square maps); ours takes the global mean of
any map, as mmpretrain and timm do. At square inputs the two agree.

Parameter names: ``stem`` and ``stages.i.j``, each layer ``conv3x3.{conv,bn}``, ``conv1x1.{conv,bn}``,
``identity`` (the BatchNorm), ``se.{down,up}``, or ``reparam`` when fused.
``convert_repvgg_checkpoint`` maps the official (``stage0``, ``rbr_dense`` ...), timm
(``repvgg_*``: ``conv_kxk``, ``attn.fc1`` ...) and mmpretrain (``stage_1``, ``branch_3x3`` ...)
layouts, in either form.
"""
import re
from typing import Dict, Optional

import torch
import torch.nn as nn

from ..layers import DropPath, drop_path_rates, maybe_checkpoint
from ..layers.norm import batchnorms_to_eval
from ..layers.reparam import ConvBN, fuse_conv_bn, identity_kernel, pad_kernel
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch


class SqueezeExcite(nn.Module):
    """Official ``SEBlock``: global mean -> 1x1 conv ``down`` -> ReLU -> 1x1 conv ``up`` -> sigmoid gate."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.down = nn.Conv2d(channels, hidden, 1)
        self.up = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.up(torch.relu(self.down(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


class RepVGGBlock(nn.Module):
    """``relu(se(conv3x3(x) + conv1x1(x) + identity(x)))``, or ``relu(se(reparam(x)))`` fused."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, groups: int = 1,
                 use_se: bool = False, drop_path: float = 0.0):
        super().__init__()
        self.conv3x3 = ConvBN(in_channels, out_channels, 3, stride, 1, groups)
        self.conv1x1 = ConvBN(in_channels, out_channels, 1, stride, 0, groups)
        self.identity = nn.BatchNorm2d(in_channels) if in_channels == out_channels and stride == 1 else None
        self.reparam: Optional[nn.Conv2d] = None
        # timm's option (the official code has none): stochastic depth on the conv branches of layers
        # with an identity branch; the fused form is for inference, where it is off anyway
        self.drop_path = DropPath(drop_path) if drop_path > 0 and self.identity is not None else nn.Identity()
        self.se = SqueezeExcite(out_channels, out_channels // 16) if use_se else None
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam is not None:
            y = self.reparam(x)
        else:
            y = self.conv3x3(x) + self.conv1x1(x)
            if self.identity is not None:
                y = self.drop_path(y) + self.identity(x)
        if self.se is not None:
            y = self.se(y)
        return self.act(y)

    @torch.no_grad()
    def switch_to_deploy(self):
        """Fold the three branches into ``reparam``: one biased 3x3 conv (``get_equivalent_kernel_bias``)."""
        if self.reparam is not None:
            return
        conv = self.conv3x3.conv
        kernel, bias = self.conv3x3.fused_kernel()
        k1, b1 = self.conv1x1.fused_kernel()
        kernel, bias = kernel + pad_kernel(k1, 3), bias + b1
        if self.identity is not None:
            ki = identity_kernel(conv.in_channels, conv.groups, 3, conv.weight)
            ki, bi = fuse_conv_bn(ki, None, self.identity)
            kernel, bias = kernel + ki, bias + bi
        reparam = nn.Conv2d(conv.in_channels, conv.out_channels, 3, conv.stride, 1, groups=conv.groups,
                            bias=True).to(conv.weight)
        reparam.weight.copy_(kernel)
        reparam.bias.copy_(bias)
        reparam.train(self.training)
        reparam.requires_grad_(conv.weight.requires_grad)
        self.reparam = reparam
        del self.conv3x3, self.conv1x1, self.identity
        self.conv3x3 = self.conv1x1 = self.identity = None


def _arch(depths, factors, groups=1, use_se=False):
    widths = tuple(int(c * f) for c, f in zip((64, 128, 256, 512), factors))
    return dict(depths=depths, widths=widths, stem_channels=min(64, int(64 * factors[0])), groups=groups,
                use_se=use_se)


_A, _B = (2, 4, 14, 1), (4, 6, 16, 1)


@MODELS.register_module()
class RepVGG(BaseBackbone):
    """RepVGG backbone.

    Args:
        arch: 'a0', 'a1', 'a2', 'b0', 'b1', 'b1g2', 'b1g4', 'b2', 'b2g2', 'b2g4', 'b3', 'b3g2', 'b3g4'
            or 'd2se' (the official ``RepVGG-*``; case and '-' do not matter), or a dict with
            ``depths``, ``widths`` and ``stem_channels`` (optional ``groups``, applied to every second
            layer, and ``use_se``).
        in_channels: input image channels.
        drop_path_rate: stochastic depth on the conv branches of layers with an identity branch,
            increasing linearly over the stages' layers (timm's option; 0, the official setting).
        out_indices: stages whose outputs are returned (strides 4, 8, 16, 32).
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 0..k-1.
        norm_eval: keep every BatchNorm in eval mode while training (running statistics fixed).
        deploy: build the fused form (one biased 3x3 conv per layer) directly; ``switch_to_deploy()``
            turns a trained model into it.
        with_cp: activation checkpointing per layer.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``: an official ``RepVGG-*-train.pth``
            (or ``-deploy.pth`` with ``deploy=True``), a timm ``repvgg_*`` or mmpretrain ``RepVGG``
            checkpoint, or our own.
    """

    converter = 'convert_repvgg_checkpoint'  # defined below the class; see PretrainedLoaderMixin
    arch_zoo = {
        'a0': _arch(_A, (0.75, 0.75, 0.75, 2.5)),
        'a1': _arch(_A, (1, 1, 1, 2.5)),
        'a2': _arch(_A, (1.5, 1.5, 1.5, 2.75)),
        'b0': _arch(_B, (1, 1, 1, 2.5)),
        'b1': _arch(_B, (2, 2, 2, 4)),
        'b1g2': _arch(_B, (2, 2, 2, 4), groups=2),
        'b1g4': _arch(_B, (2, 2, 2, 4), groups=4),
        'b2': _arch(_B, (2.5, 2.5, 2.5, 5)),
        'b2g2': _arch(_B, (2.5, 2.5, 2.5, 5), groups=2),
        'b2g4': _arch(_B, (2.5, 2.5, 2.5, 5), groups=4),
        'b3': _arch(_B, (3, 3, 3, 5)),
        'b3g2': _arch(_B, (3, 3, 3, 5), groups=2),
        'b3g4': _arch(_B, (3, 3, 3, 5), groups=4),
        'd2se': _arch((8, 14, 24, 1), (2.5, 2.5, 2.5, 5), use_se=True),
    }

    def __init__(self, arch='a0', in_channels=3, drop_path_rate=0.0, out_indices=(0, 1, 2, 3),
                 frozen_stages=-1, norm_eval=False, deploy=False, with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('depths', 'widths', 'stem_channels'), name)
        depths, widths = tuple(cfg['depths']), tuple(cfg['widths'])
        groups, use_se = int(cfg.get('groups', 1)), bool(cfg.get('use_se', False))
        if len(depths) != len(widths):
            raise ValueError(f'{name}: depths {depths} and widths {widths} must have one entry per stage')
        if groups > 1 and any(w % groups for w in widths):
            raise ValueError(f'{name}: every width in {widths} must be divisible by groups={groups}')
        self.num_stages = len(depths)
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.num_features = list(widths)
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp
        self.deploy = False

        self.stem = RepVGGBlock(in_channels, int(cfg['stem_channels']), stride=2, use_se=use_se)
        layer, channels, stages = 0, int(cfg['stem_channels']), []
        dpr = drop_path_rates(drop_path_rate, depths)
        for i, (depth, width) in enumerate(zip(depths, widths)):
            blocks = []
            for j in range(depth):
                layer += 1
                blocks.append(RepVGGBlock(channels, width, stride=2 if j == 0 else 1,
                                          groups=groups if layer % 2 == 0 else 1, use_se=use_se,
                                          drop_path=dpr[i][j]))
                channels = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        if deploy:
            self.switch_to_deploy()
        self._freeze_stages()

    def switch_to_deploy(self):
        """Fuse every layer's branches into one 3x3 conv, in place (equal outputs in eval mode)."""
        for m in self.modules():
            if isinstance(m, RepVGGBlock):
                m.switch_to_deploy()
        self.deploy = True

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.stem)
        for i in range(min(self.frozen_stages, self.num_stages)):
            freeze(self.stages[i])

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            batchnorms_to_eval(self)
        return self

    def load_pretrained(self, checkpoint, prefix=None, map_location='cpu'):
        result = super().load_pretrained(checkpoint, prefix=prefix, map_location=map_location)
        return self._refuse_other_form(checkpoint, result, train_key='stem.conv3x3.conv.weight',
                                       fused_key='stem.reparam.weight')

    def forward(self, x: torch.Tensor):
        x = maybe_checkpoint(self.stem, x, enabled=self.with_cp)
        outs = []
        for i, stage in enumerate(self.stages):
            for block in stage:
                x = maybe_checkpoint(block, x, enabled=self.with_cp)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


# (pattern, replacement) on one layer's key suffix, for each foreign layout.
def _conv_bn(name):
    return lambda m: f'{name}.{"conv" if m[2] == "conv" else "bn"}.'


_LAYER_RULES = [
    (r'^(rbr_dense|branch_3x3|conv_kxk)\.(conv|bn|norm)\.', _conv_bn('conv3x3')),
    (r'^(rbr_1x1|branch_1x1|conv_1x1)\.(conv|bn|norm)\.', _conv_bn('conv1x1')),
    (r'^(rbr_identity|branch_norm|identity)\.', lambda m: 'identity.'),
    (r'^(rbr_reparam|branch_reparam|reparam_conv)\.', lambda m: 'reparam.'),
    (r'^(se\.down|se_layer\.conv1\.conv|attn\.fc1)\.', lambda m: 'se.down.'),
    (r'^(se\.up|se_layer\.conv2\.conv|attn\.fc2)\.', lambda m: 'se.up.'),
]


def convert_repvgg_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a RepVGG checkpoint to this module's names: the official ``stage0`` / ``stage{1..4}.j``
    (``rbr_dense``, ``rbr_1x1``, ``rbr_identity``, ``rbr_reparam``, ``se.down/up``), timm
    (``stem`` / ``stages.i.j``: ``conv_kxk``, ``conv_1x1``, ``identity``, ``reparam_conv``,
    ``attn.fc1/fc2``) and mmpretrain (``stem`` / ``stage_{1..4}.j``: ``branch_3x3``, ``branch_1x1``,
    ``branch_norm``, ``branch_reparam``, ``se_layer.conv{1,2}.conv``), training or fused form. The
    classifiers (``linear``, ``head.*``) are dropped; our own format passes unchanged."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith(('linear.', 'head.', 'fc.')):
            continue
        m = re.match(r'^(stage0|stem)\.(.*)$', key)
        if m:
            layer, rest = 'stem', m[2]
        else:
            m = re.match(r'^(?:stage_?(\d+)|stages\.(\d+))\.(\d+)\.(.*)$', key)
            if not m:
                out[key] = value
                continue
            stage = int(m[1]) - 1 if m[1] is not None else int(m[2])
            layer, rest = f'stages.{stage}.{m[3]}', m[4]
        for pattern, repl in _LAYER_RULES:
            new, n = re.subn(pattern, repl, rest)
            if n:
                rest = new
                break
        out[f'{layer}.{rest}'] = value
    return out
