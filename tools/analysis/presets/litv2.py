# No peer library implements LITv2 (its equivalence is tested against the official code's outputs).
PRESETS = {
    'litv2-s': {
        'ours': ('vitdense', dict(type='LITv2', arch='small', drop_path_rate=0.0)),
    },
}
