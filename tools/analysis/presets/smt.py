# No peer library implements SMT (the official code is compared in tests/test_smt.py through a
# recorded fixture), so the preset measures ours alone.
PRESETS = {
    'smt-t': {
        'ours': ('vitdense', dict(type='SMT', arch='tiny', drop_path_rate=0.0)),
    },
}
