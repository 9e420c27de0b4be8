# No peer library implements DilateFormer (its equivalence is tested against the official code's
# outputs, tests/data/dilateformer_official_small.pt).
PRESETS = {
    'dilateformer-tiny': {
        'ours': ('vitdense', dict(type='DilateFormer', arch='tiny', drop_path_rate=0.0)),
    },
    'dilateformer-small': {
        'ours': ('vitdense', dict(type='DilateFormer', arch='small', drop_path_rate=0.0)),
    },
}
