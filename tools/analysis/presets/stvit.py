# No peer library implements STViT-R (its equivalence is tested against the official code's outputs,
# tests/data/stvit_official_small.pt). The useful comparison is the dense Swin of the same size:
# STViT-R replaces 12 of the 18 full-resolution attention blocks of the third stage with semantic
# token blocks.
PRESETS = {
    'stvit-s': {
        'ours': ('vitdense', dict(type='STViTR', arch='small', drop_path_rate=0.0)),
        'swin': ('vitdense', dict(type='SwinTransformer', arch='small', drop_path_rate=0.0)),
    },
    'stvit-b': {
        'ours': ('vitdense', dict(type='STViTR', arch='base', drop_path_rate=0.0)),
        'swin': ('vitdense', dict(type='SwinTransformer', arch='base', drop_path_rate=0.0)),
    },
}
