# PVT v1 and PVTv2. timm's pvt_v2 takes no img_size argument, which the benchmark's timm builder
# passes, so PVTv2 is measured against mmdet only (timm's features equal ours: tests/test_pvt.py).
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
    },
}
