"""ShuffleNet v1 (Zhang et al., CVPR 2018, arXiv 1707.01083) and ShuffleNet v2 (Ma et al., ECCV 2018,
arXiv 1807.11164), the dense-prediction form of the official megvii-model/ShuffleNet-Series
``ShuffleNetV1/`` and ``ShuffleNetV2/`` code.

Both networks: a stem (``3x3`` stride-2 conv -> BN -> ReLU, then a ``3x3`` stride-2 max-pool) and
three stages of ``(4, 8, 4)`` units whose first unit has stride 2.

- v1 unit: grouped ``1x1`` conv -> BN -> ReLU -> depthwise ``3x3`` -> BN -> channel shuffle ->
  grouped ``1x1`` -> BN, added to the input (then ReLU), or, in the stride-2 first unit, concatenated
  after the ReLU with a ``3x3`` stride-2 average pool of the input. The bottleneck has a quarter of
  the unit's output channels; the very first ``1x1`` conv of the network is not grouped (the
  official ``first_group`` rule: stage 0, unit 0 only).
- v2 unit: half of the channels pass through, the other half go through ``1x1`` -> depthwise
  ``3x3`` -> ``1x1`` (BN after each, ReLU after the ``1x1``s); the stride-2 unit feeds the whole
  input to that branch and to a second one (depthwise ``3x3`` -> ``1x1``) and concatenates both.
  v2 ends with ``conv_last`` (``1x1`` -> BN -> ReLU, 1024 or 2048 channels).

Dense outputs (``feature_info``): index 0 is the stem output (after the max-pool, stride 4), indices
1-3 the three stages (strides 8, 16, 32). For v2 index 3 is the last stage followed by
``conv_last`` (the map the official classifier pools; mmpretrain returns it as ``layers[3]``), or
the last stage alone with ``with_last_conv=False``. mmpretrain returns only the stage outputs
(strides 8/16/32, plus ``conv_last`` for v2); the stride-4 stem map is what an FPN needs as its
finest level. Any input size: every stride-2 op (conv, pools) is ``3x3`` with padding 1, so map
``i`` has ``ceil(H / stride_i)`` rows and nothing is cropped.

Channel order. The official code and mmpretrain build the same kinds of layers but order channels
differently, so the same weights give different outputs in the two:
v1: the official shuffle reads the channels as ``(C // g, g)`` and transposes, mmpretrain (and the
paper's description) as ``(g, C // g)``: inverse permutations. v2: the official unit splits the
input into even (passed through) and odd channels (the branch) and concatenates without a shuffle;
mmpretrain (as torchvision) splits into halves and shuffles the concatenation with two groups;
in the stride-2 units the official second branch keeps the input's width and the main branch makes
the rest, mmpretrain's make half each (other shapes where the input is not half the output: the first
unit of 1.0x-2.0x).
``channel_order='megvii'`` (default) computes the official networks, ``'mmpretrain'``
mmpretrain's; a checkpoint of one layout loaded into a model of the other order is refused.
mmpretrain's v1 ``widen_factor`` rule (``make_divisible(c * w, 8)``, stem ``int(24 w)``) matches the
official tables at 1.0x only (and g3 0.5x); other mmpretrain widths are built with an arch dict.

Parameter names: ``stem.{conv,bn}``, ``stages.i.j`` with ``pw1``, ``dw``, ``pw2`` (v1 and v2 main
branch), ``proj_dw``, ``proj_pw`` (v2 stride-2 second branch), each ``{conv,bn}``; v2
``conv_last.{conv,bn}``. ``convert_shufflenet_v1_checkpoint`` / ``convert_shufflenet_v2_checkpoint``
map the official (``first_conv``, ``features.N.branch_main...``) and mmpretrain (``conv1``,
``layers.i.j...``) layouts; classifiers are dropped.
"""
import re
from typing import Dict

import torch
import torch.nn as nn

from ..layers import DropPath, drop_path_rates, maybe_checkpoint
from ..layers.norm import batchnorms_to_eval
from ..layers.reparam import ConvBN
from ..registry import MODELS
from .base import BaseBackbone, check_out_indices, freeze, resolve_arch, strip_prefixes

CHANNEL_ORDERS = ('megvii', 'mmpretrain')
STAGE_DEPTHS = (4, 8, 4)


def channel_shuffle(x: torch.Tensor, groups: int, order: str) -> torch.Tensor:
    """``'mmpretrain'``: view channels as ``(groups, C // groups)`` and transpose (the paper's
    shuffle); ``'megvii'``: view as ``(C // groups, groups)`` and transpose (the official v1 code),
    the inverse permutation."""
    b, c, h, w = x.shape
    shape = (b, groups, c // groups, h, w) if order == 'mmpretrain' else (b, c // groups, groups, h, w)
    return x.reshape(shape).transpose(1, 2).reshape(b, c, h, w)


class ShuffleV1Unit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, groups: int, stride: int, first: bool,
                 channel_order: str, drop_path: float = 0.0):
        super().__init__()
        mid = out_channels // 4
        branch = out_channels - in_channels if stride == 2 else out_channels
        self.stride, self.groups, self.channel_order = stride, groups, channel_order
        self.pw1 = ConvBN(in_channels, mid, 1, groups=1 if first else groups)
        self.dw = ConvBN(mid, mid, 3, stride, 1, groups=mid)
        self.pw2 = ConvBN(mid, branch, 1, groups=groups)
        self.pool = nn.AvgPool2d(3, 2, 1) if stride == 2 else None
        # timm-style option (the official code has none): stochastic depth on the residual branch
        self.drop_path = DropPath(drop_path) if drop_path > 0 and stride == 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(torch.relu(self.pw1(x)))
        if self.groups > 1:
            y = channel_shuffle(y, self.groups, self.channel_order)
        y = self.pw2(y)
        if self.pool is None:
            return torch.relu(x + self.drop_path(y))
        return torch.cat((self.pool(x), torch.relu(y)), 1)


class ShuffleV2Unit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int, channel_order: str):
        super().__init__()
        mid = out_channels // 2
        self.stride, self.channel_order = stride, channel_order
        main_in = in_channels if stride == 2 else in_channels // 2
        # official: the stride-2 second branch keeps the input's channels and the main branch makes
        # the rest; mmpretrain: each branch makes half (the two differ only where in != out / 2)
        if channel_order == 'megvii':
            proj_out, main_out = in_channels, (out_channels - in_channels if stride == 2 else mid)
        else:
            proj_out, main_out = mid, mid
        self.pw1 = ConvBN(main_in, mid, 1)
        self.dw = ConvBN(mid, mid, 3, stride, 1, groups=mid)
        self.pw2 = ConvBN(mid, main_out, 1)
        if stride == 2:
            self.proj_dw = ConvBN(in_channels, in_channels, 3, stride, 1, groups=in_channels)
            self.proj_pw = ConvBN(in_channels, proj_out, 1)

    def main(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.pw2(self.dw(torch.relu(self.pw1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            y = torch.cat((torch.relu(self.proj_pw(self.proj_dw(x))), self.main(x)), 1)
        elif self.channel_order == 'megvii':
            y = torch.cat((x[:, 0::2], self.main(x[:, 1::2])), 1)
        else:
            half = x.shape[1] // 2
            y = torch.cat((x[:, :half], self.main(x[:, half:])), 1)
        if self.channel_order == 'mmpretrain':
            y = channel_shuffle(y, 2, 'mmpretrain')
        return y


class _ShuffleNetBase(BaseBackbone):
    """Stem, three stages, freezing, forward and layout checks shared by v1 and v2."""

    def _setup(self, out_indices, frozen_stages, norm_eval, with_cp, channel_order):
        name = type(self).__name__
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'{name}: channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}')
        self.channel_order = channel_order
        self.num_stages = 4  # the stem map and three stages
        self.out_indices = check_out_indices(out_indices, self.num_stages, name)
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp

    def _build_stem(self, in_channels, stem_channels):
        self.stem = ConvBN(in_channels, stem_channels, 3, 2, 1)
        self.maxpool = nn.MaxPool2d(3, 2, 1)

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            freeze(self.stem)
        for i in range(min(self.frozen_stages, len(self.stages))):
            freeze(self.stages[i])
        if self.frozen_stages >= len(self.stages):
            freeze(getattr(self, 'conv_last', None))

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            batchnorms_to_eval(self)
        return self

    def _unwrap(self, ckpt):
        sd = strip_prefixes(ckpt)
        keys = list(sd)
        megvii = any(k.startswith(('first_conv.', 'features.')) for k in keys)
        mmpre = any(k.startswith(('conv1.conv.', 'layers.')) for k in keys)
        if (megvii and self.channel_order != 'megvii') or (mmpre and self.channel_order != 'mmpretrain'):
            found = 'megvii' if megvii else 'mmpretrain'
            raise RuntimeError(f'{self.family()}: the checkpoint is in the {found} layout, whose channel '
                               f'order differs from this model\'s channel_order={self.channel_order!r}; '
                               f'build it with channel_order={found!r}')
        return sd

    def forward(self, x: torch.Tensor):
        x = self.maxpool(torch.relu(maybe_checkpoint(self.stem, x, enabled=self.with_cp)))
        outs = [x] if 0 in self.out_indices else []
        for i, stage in enumerate(self.stages):
            for unit in stage:
                x = maybe_checkpoint(unit, x, enabled=self.with_cp)
            if i == len(self.stages) - 1 and getattr(self, 'conv_last', None) is not None:
                x = torch.relu(maybe_checkpoint(self.conv_last, x, enabled=self.with_cp))
            if i + 1 in self.out_indices:
                outs.append(x)
        return tuple(outs)


def _v1(groups, stem, widths):
    return dict(groups=groups, stem_channels=stem, widths=widths)


@MODELS.register_module()
class ShuffleNetV1(_ShuffleNetBase):
    """ShuffleNet v1 backbone.

    Args:
        arch: ``'g{groups}_{width}x'``: the official release ``g3`` / ``g8`` at ``0.5x``, ``1.0x``,
            ``1.5x``, ``2.0x`` (the official channel tables, stems of 12/16, 24, 24, 48 channels), and the
            paper's Table 1 ``g1_1.0x``, ``g2_1.0x``, ``g4_1.0x`` (as mmpretrain's ``widen_factor=1.0``);
            or a dict with ``groups``, ``stem_channels`` and ``widths`` (three stage widths).
        in_channels: input image channels.
        drop_path_rate: stochastic depth on the residual branch of the stride-1 units, increasing
            linearly over the units (timm's option; 0, the official setting).
        out_indices: maps to return: 0 the stem (stride 4), 1-3 the stages (strides 8, 16, 32).
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 1..k.
        norm_eval: keep every BatchNorm in eval mode while training.
        channel_order: ``'megvii'`` (the official code and weights) or ``'mmpretrain'`` (mmpretrain's
            ``ShuffleNetV1`` and its weights); see the module docstring.
        with_cp: activation checkpointing per unit.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``: an official
            ``ShuffleNetV1/`` checkpoint, an mmpretrain one (with ``channel_order='mmpretrain'``), or our own.
    """

    model_name_prefix = 'shufflenet_v1'  # vitdense.get_model('shufflenet_v1_...')
    converter = 'convert_shufflenet_v1_checkpoint'
    arch_zoo = {
        'g3_0.5x': _v1(3, 12, (120, 240, 480)),
        'g3_1.0x': _v1(3, 24, (240, 480, 960)),
        'g3_1.5x': _v1(3, 24, (360, 720, 1440)),
        'g3_2.0x': _v1(3, 48, (480, 960, 1920)),
        'g8_0.5x': _v1(8, 16, (192, 384, 768)),
        'g8_1.0x': _v1(8, 24, (384, 768, 1536)),
        'g8_1.5x': _v1(8, 24, (576, 1152, 2304)),
        'g8_2.0x': _v1(8, 48, (768, 1536, 3072)),
        'g1_1.0x': _v1(1, 24, (144, 288, 576)),
        'g2_1.0x': _v1(2, 24, (200, 400, 800)),
        'g4_1.0x': _v1(4, 24, (272, 544, 1088)),
    }

    def __init__(self, arch='g3_1.0x', in_channels=3, drop_path_rate=0.0, out_indices=(0, 1, 2, 3),
                 frozen_stages=-1, norm_eval=False, channel_order='megvii', with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        cfg = resolve_arch(arch, self.arch_zoo, ('groups', 'stem_channels', 'widths'), name)
        groups, stem, widths = int(cfg['groups']), int(cfg['stem_channels']), tuple(cfg['widths'])
        if len(widths) != 3:
            raise ValueError(f'{name}: widths {widths} must have three entries (one per stage)')
        channels = stem
        for w in widths:
            if (w // 4) % groups or (w - channels) % groups:
                raise ValueError(f'{name}: width {w} (after {channels}) does not fit groups={groups}: the '
                                 f'bottleneck {w // 4} and the branch {w - channels} must divide by it')
            channels = w
        self._setup(out_indices, frozen_stages, norm_eval, with_cp, channel_order)
        self.groups = groups
        self.num_features = [stem, *widths]
        self._build_stem(in_channels, stem)
        stages, channels = [], stem
        dpr = drop_path_rates(drop_path_rate, STAGE_DEPTHS)
        for i, (depth, width) in enumerate(zip(STAGE_DEPTHS, widths)):
            units = []
            for j in range(depth):
                units.append(ShuffleV1Unit(channels, width, groups, 2 if j == 0 else 1, i == 0 and j == 0,
                                           channel_order, dpr[i][j]))
                channels = width
            stages.append(nn.Sequential(*units))
        self.stages = nn.ModuleList(stages)
        self._freeze_stages()


@MODELS.register_module()
class ShuffleNetV2(_ShuffleNetBase):
    """ShuffleNet v2 backbone.

    Args:
        arch: ``'0.5x'``, ``'1.0x'``, ``'1.5x'``, ``'2.0x'`` (the official tables), or a dict with
            ``stem_channels``, ``widths`` (three stage widths) and ``last_channels``.
        in_channels: input image channels.
        drop_path_rate: accepted for a uniform interface; must be 0 (v2 units concatenate, they add nothing).
        out_indices: maps to return: 0 the stem (stride 4), 1-3 the stages (strides 8, 16, 32); 3 is
            the last stage followed by ``conv_last`` unless ``with_last_conv=False``.
        with_last_conv: build ``conv_last`` (the official 1x1 conv to 1024 / 2048 channels) after the
            last stage.
        frozen_stages: -1 trains all; 0 freezes the stem; k > 0 also stages 1..k (3: ``conv_last`` too).
        norm_eval: keep every BatchNorm in eval mode while training.
        channel_order: ``'megvii'`` (the official code and weights) or ``'mmpretrain'`` (mmpretrain's
            ``ShuffleNetV2`` and its weights); see the module docstring.
        with_cp: activation checkpointing per unit.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=PATH)``: an official ``ShuffleNetV2/``
            checkpoint, an mmpretrain one (with ``channel_order='mmpretrain'``), or our own.
    """

    model_name_prefix = 'shufflenet_v2'  # vitdense.get_model('shufflenet_v2_...')
    converter = 'convert_shufflenet_v2_checkpoint'
    arch_zoo = {
        '0.5x': dict(stem_channels=24, widths=(48, 96, 192), last_channels=1024),
        '1.0x': dict(stem_channels=24, widths=(116, 232, 464), last_channels=1024),
        '1.5x': dict(stem_channels=24, widths=(176, 352, 704), last_channels=1024),
        '2.0x': dict(stem_channels=24, widths=(244, 488, 976), last_channels=2048),
    }

    def __init__(self, arch='1.0x', in_channels=3, drop_path_rate=0.0, out_indices=(0, 1, 2, 3),
                 with_last_conv=True, frozen_stages=-1, norm_eval=False, channel_order='megvii',
                 with_cp=False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        if drop_path_rate:
            raise ValueError(f'{name}: drop_path_rate must be 0: a v2 unit has no residual sum to drop a '
                             f'branch from')
        cfg = resolve_arch(arch, self.arch_zoo, ('stem_channels', 'widths', 'last_channels'), name)
        stem, widths = int(cfg['stem_channels']), tuple(cfg['widths'])
        if len(widths) != 3 or any(w % 4 for w in widths):
            raise ValueError(f'{name}: widths {widths} must be three multiples of 4')
        self._setup(out_indices, frozen_stages, norm_eval, with_cp, channel_order)
        self.with_last_conv = with_last_conv
        self._build_stem(in_channels, stem)
        stages, channels = [], stem
        for depth, width in zip(STAGE_DEPTHS, widths):
            units = []
            for j in range(depth):
                units.append(ShuffleV2Unit(channels, width, 2 if j == 0 else 1, channel_order))
                channels = width
            stages.append(nn.Sequential(*units))
        self.stages = nn.ModuleList(stages)
        last = int(cfg['last_channels'])
        self.conv_last = ConvBN(channels, last, 1) if with_last_conv else None
        self.num_features = [stem, widths[0], widths[1], last if with_last_conv else widths[2]]
        self._freeze_stages()


def _stage_unit(index: int):
    """Official flat ``features.N`` index -> (stage, unit) for the (4, 8, 4) stages."""
    for stage, depth in enumerate(STAGE_DEPTHS):
        if index < depth:
            return stage, index
        index -= depth
    raise KeyError(f'ShuffleNet: features.{index} lies beyond the (4, 8, 4) stages')


# official Sequential indices and mmpretrain module names -> our (module, conv|bn)
_V1_OFFICIAL = {'branch_main_1.0': 'pw1.conv', 'branch_main_1.1': 'pw1.bn', 'branch_main_1.3': 'dw.conv',
                'branch_main_1.4': 'dw.bn', 'branch_main_2.0': 'pw2.conv', 'branch_main_2.1': 'pw2.bn'}
_V1_MMPRETRAIN = {'g_conv_1x1_compress': 'pw1', 'depthwise_conv3x3_bn': 'dw', 'g_conv_1x1_expand': 'pw2'}
_V2_OFFICIAL = {'branch_main.0': 'pw1.conv', 'branch_main.1': 'pw1.bn', 'branch_main.3': 'dw.conv',
                'branch_main.4': 'dw.bn', 'branch_main.5': 'pw2.conv', 'branch_main.6': 'pw2.bn',
                'branch_proj.0': 'proj_dw.conv', 'branch_proj.1': 'proj_dw.bn',
                'branch_proj.2': 'proj_pw.conv', 'branch_proj.3': 'proj_pw.bn'}
_V2_MMPRETRAIN = {'branch2.0': 'pw1', 'branch2.1': 'dw', 'branch2.2': 'pw2', 'branch1.0': 'proj_dw',
                  'branch1.1': 'proj_pw'}
_HEADS = ('classifier.', 'head.', 'fc.', 'data_preprocessor.')


def _convert(state_dict: Dict[str, torch.Tensor], official: dict, mmpre: dict, last_layer: bool):
    out = {}
    for key, value in state_dict.items():
        if key.startswith(_HEADS):
            continue
        new = key
        m = re.match(r'^(first_conv|conv1)\.(0|1|conv|bn)\.(.*)$', key)
        if m:
            new = f'stem.{"conv" if m[2] in ("0", "conv") else "bn"}.{m[3]}'
        elif re.match(r'^conv_last\.[01]\.', key):
            new = 'conv_last.' + ('conv.' if key[10] == '0' else 'bn.') + key[12:]
        elif last_layer and re.match(r'^layers\.3\.(conv|bn)\.', key):
            new = 'conv_last.' + key[len('layers.3.'):]
        else:
            m = re.match(r'^features\.(\d+)\.(\w+\.\d+)\.(.*)$', key)
            if m and m[2] in official:
                stage, unit = _stage_unit(int(m[1]))
                new = f'stages.{stage}.{unit}.{official[m[2]]}.{m[3]}'
            m = re.match(r'^layers\.(\d+)\.(\d+)\.([\w.]+?)\.(conv|bn)\.(.*)$', key)
            if m and m[3] in mmpre:
                new = f'stages.{m[1]}.{m[2]}.{mmpre[m[3]]}.{m[4]}.{m[5]}'
        out[new] = value
    return out


def convert_shufflenet_v1_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official ``ShuffleNetV1/network.py`` (``first_conv.{0,1}``, ``features.N.branch_main_{1,2}.k``)
    or mmpretrain ``ShuffleNetV1`` (``conv1.{conv,bn}``, ``layers.i.j.{g_conv_1x1_compress,
    depthwise_conv3x3_bn, g_conv_1x1_expand}.{conv,bn}``) -> ours; classifier / head dropped, our own
    format unchanged. The channel order is a model setting (``channel_order``), not a key change."""
    return _convert(state_dict, _V1_OFFICIAL, _V1_MMPRETRAIN, last_layer=False)


def convert_shufflenet_v2_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official ``ShuffleNetV2/network.py`` (``first_conv``, ``features.N.branch_{main,proj}.k``,
    ``conv_last.{0,1}``) or mmpretrain ``ShuffleNetV2`` (``conv1``, ``layers.i.j.branch{1,2}.k.{conv,bn}``,
    ``layers.3`` = conv_last) -> ours; classifier / head dropped, our own format unchanged."""
    return _convert(state_dict, _V2_OFFICIAL, _V2_MMPRETRAIN, last_layer=True)
