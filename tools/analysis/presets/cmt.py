# No peer library implements CMT (its equivalence is tested against the official code's outputs,
# tests/data/cmt_official_small.pt).
PRESETS = {
    'cmt-tiny': {
        'ours': ('vitdense', dict(type='CMT', arch='tiny', drop_path_rate=0.0)),
    },
    'cmt-small': {
        'ours': ('vitdense', dict(type='CMT', arch='small', drop_path_rate=0.0)),
    },
}
