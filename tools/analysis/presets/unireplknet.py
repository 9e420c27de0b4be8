# No peer library implements UniRepLKNet (timm 1.0 has no `unireplknet`; its equivalence is tested
# against the official code's outputs, tests/data/unireplknet_official_small.pt). The deploy form
# (`deploy=True`, what `switch_to_deploy()` produces) is the inference-time network.
PRESETS = {
    'unireplknet-a': {
        'ours': ('vitdense', dict(type='UniRepLKNet', arch='atto', drop_path_rate=0.0)),
    },
    'unireplknet-t': {
        'ours': ('vitdense', dict(type='UniRepLKNet', arch='tiny', drop_path_rate=0.0)),
    },
    'unireplknet-t-deploy': {
        'ours': ('vitdense', dict(type='UniRepLKNet', arch='tiny', deploy=True, drop_path_rate=0.0)),
    },
}
