PRESETS = {
    'poolformer-s12': {
        'ours': ('vitdense', dict(type='PoolFormer', arch='s12', drop_path_rate=0.0)),
        'mmpretrain': ('mmpretrain', dict(type='PoolFormer', arch='s12', out_indices=(0, 2, 4, 6),
                                          drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='poolformer_s12')),
    },
    'convformer-s18': {
        'ours': ('vitdense', dict(type='ConvFormer', arch='s18', drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='convformer_s18')),
    },
    'caformer-s18': {
        'ours': ('vitdense', dict(type='CAFormer', arch='s18', drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='caformer_s18')),
    },
}
