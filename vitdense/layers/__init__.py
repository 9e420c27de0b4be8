"""Shared building blocks; family files in ``vitdense/backbones`` compose these."""
from .attention import Attention, attention
from .checkpoint import maybe_checkpoint
from .drop import DropPath, drop_path, drop_path_rates
from .mlp import ConvMlp, Mlp
from .ms_deform_attn import MSDeformAttn, ms_deform_attn
from .norm import LayerNorm2d
from .patch import PatchEmbed, PatchMerging
from .pos_bias import (RelativePositionBias, gather_relative_bias, relative_position_index,
                       relative_position_table_shape, resize_relative_position_table)
from .window import (pad_to_multiple, shifted_window_labels, shifted_window_mask, to_2tuple, window_partition,
                     window_reverse)

__all__ = [
    'Attention', 'attention', 'maybe_checkpoint', 'DropPath', 'drop_path', 'drop_path_rates', 'Mlp',
    'ConvMlp', 'MSDeformAttn', 'ms_deform_attn', 'LayerNorm2d', 'PatchEmbed', 'PatchMerging', 'RelativePositionBias', 'gather_relative_bias',
    'relative_position_index', 'relative_position_table_shape', 'resize_relative_position_table',
    'pad_to_multiple', 'shifted_window_labels', 'shifted_window_mask', 'to_2tuple', 'window_partition', 'window_reverse'
]
