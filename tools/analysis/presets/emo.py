# No peer library implements EMO (its equivalence is tested against the official code's outputs,
# tests/data/emo_official_small.pt).
PRESETS = {
    'emo-1m': {
        'ours': ('vitdense', dict(type='EMO', arch='1m', drop_path_rate=0.0)),
    },
    'emo-5m': {
        'ours': ('vitdense', dict(type='EMO', arch='5m', drop_path_rate=0.0)),
    },
}
