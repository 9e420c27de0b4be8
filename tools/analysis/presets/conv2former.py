# No peer library implements Conv2Former (its equivalence is tested against the official code's
# outputs, tests/data/conv2former_official_small.pt).
PRESETS = {
    'conv2former-n': {
        'ours': ('vitdense', dict(type='Conv2Former', arch='nano', drop_path_rate=0.0)),
    },
    'conv2former-t': {
        'ours': ('vitdense', dict(type='Conv2Former', arch='tiny', drop_path_rate=0.0)),
    },
}
