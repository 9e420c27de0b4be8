# No peer library implements DAT / DAT++ (the official code is compared in tests/test_dat.py
# through recorded fixtures), so the presets measure ours alone.
PRESETS = {
    'dat-t': {
        'ours': ('vitdense', dict(type='DAT', arch='tiny', drop_path_rate=0.0)),
    },
    'datpp-t': {
        'ours': ('vitdense', dict(type='DATPlusPlus', arch='tiny', drop_path_rate=0.0)),
    },
}
