# No peer library implements BiFormer (the official code is compared in tests/test_biformer.py
# through a recorded fixture), so the preset measures ours alone.
PRESETS = {
    'biformer-t': {
        'ours': ('vitdense', dict(type='BiFormer', arch='tiny', n_win=7, drop_path_rate=0.0)),
    },
    'biformer-s-det': {  # the COCO setting: 16 regions per side
        'ours': ('vitdense', dict(type='BiFormer', arch='small', n_win=16, drop_path_rate=0.0)),
    },
}
