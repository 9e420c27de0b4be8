# PVT v1 and PVTv2. timm's pvt_v2 takes no img_size argument: the benchmark's timm builder then
# builds it without one (timm's features equal ours: tests/test_pvt.py).
PRESETS = {
    'pvt-t': {
        'ours': ('vitdense', dict(type='PVT', arch='tiny', drop_path_rate=0.0)),
        'mmdet': ('mmdet', dict(type='PyramidVisionTransformer', num_layers=[2, 2, 2, 2],
                                drop_path_rate=0.0)),
    },
    'pvtv2-b0': {
        'ours': ('vitdense', dict(type='PVTv2', arch='b0', drop_path_rate=0.0)),
        'mmdet': ('mmdet', dict(type='PyramidVisionTransformerV2', embed_dims=32, num_layers=[2, 2, 2, 2],
                                drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='pvt_v2_b0')),
    },
    'pvtv2-b2': {
        'ours': ('vitdense', dict(type='PVTv2', arch='b2', drop_path_rate=0.0)),
        'mmdet': ('mmdet', dict(type='PyramidVisionTransformerV2', embed_dims=64, num_layers=[3, 4, 6, 3],
                                drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='pvt_v2_b2')),
    },
}
