# No peer library implements the Focal Transformer (its equivalence is tested against the official
# code's outputs).
PRESETS = {
    'focal-t': {
        'ours': ('vitdense', dict(type='FocalTransformer', arch='tiny', drop_path_rate=0.0)),
    },
}
