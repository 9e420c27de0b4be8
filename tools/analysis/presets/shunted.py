# No peer library implements the Shunted Transformer (its equivalence is tested against the official
# code's outputs, tests/data/shunted_official_small.pt).
PRESETS = {
    'shunted-t': {
        'ours': ('vitdense', dict(type='ShuntedTransformer', arch='tiny', drop_path_rate=0.0)),
    },
    'shunted-s': {
        'ours': ('vitdense', dict(type='ShuntedTransformer', arch='small', drop_path_rate=0.0)),
    },
}
