# timm's inception_next_* is the official model code (sail-sg/inceptionnext), our peer.
PRESETS = {
    'inceptionnext-atto': {
        'ours': ('vitdense', dict(type='InceptionNeXt', arch='atto', drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='inception_next_atto')),
    },
    'inceptionnext-t': {
        'ours': ('vitdense', dict(type='InceptionNeXt', arch='tiny', drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='inception_next_tiny')),
    },
}
