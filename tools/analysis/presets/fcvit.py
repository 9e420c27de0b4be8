# No peer library implements FCViT (its equivalence is tested against the official code's outputs,
# tests/data/fcvit_official_small.pt).
PRESETS = {
    'fcvit-tiny': {
        'ours': ('vitdense', dict(type='FCViT', arch='tiny', drop_path_rate=0.0)),
    },
    'fcvit-b12': {
        'ours': ('vitdense', dict(type='FCViT', arch='b12', drop_path_rate=0.0)),
    },
}
