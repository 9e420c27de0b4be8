PRESETS = {
    'swin-t': {
        'ours': ('vitdense', dict(type='SwinTransformer', arch='tiny', drop_path_rate=0.0)),
        'mmdet': ('mmdet', dict(type='SwinTransformer', embed_dims=96, depths=(2, 2, 6, 2),
                                num_heads=(3, 6, 12, 24), window_size=7, drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='swin_tiny_patch4_window7_224')),
    },
}
