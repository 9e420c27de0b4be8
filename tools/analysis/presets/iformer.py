# No peer library implements iFormer (timm's iformer_* is another network); its equivalence is
# tested against the official code's outputs, tests/data/iformer_official_small.pt.
PRESETS = {
    'iformer-s': {
        'ours': ('vitdense', dict(type='InceptionTransformer', arch='small', drop_path_rate=0.0)),
    },
    'iformer-b': {
        'ours': ('vitdense', dict(type='InceptionTransformer', arch='base', drop_path_rate=0.0)),
    },
}
