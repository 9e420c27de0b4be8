# No peer library implements CloFormer (its equivalence is tested against the official code's
# outputs, tests/data/cloformer_official_small.pt).
PRESETS = {
    'cloformer-xxs': {
        'ours': ('vitdense', dict(type='CloFormer', arch='xxs', drop_path_rate=0.0)),
    },
    'cloformer-s': {
        'ours': ('vitdense', dict(type='CloFormer', arch='s', drop_path_rate=0.0)),
    },
}
