PRESETS = {
    'twins-pcpvt-s': {
        'ours': ('vitdense', dict(type='TwinsPCPVT', arch='small', drop_path_rate=0.0)),
        'mmseg': ('mmseg', dict(type='PCPVT', embed_dims=[64, 128, 320, 512], num_heads=[1, 2, 5, 8],
                                mlp_ratios=[8, 8, 4, 4], depths=[3, 4, 6, 3], sr_ratios=[8, 4, 2, 1],
                                qkv_bias=True, drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='twins_pcpvt_small')),
    },
    'twins-svt-s': {
        'ours': ('vitdense', dict(type='TwinsSVT', arch='small', drop_path_rate=0.0)),
        'mmseg': ('mmseg', dict(type='SVT', embed_dims=[64, 128, 256, 512], num_heads=[2, 4, 8, 16],
                                mlp_ratios=[4, 4, 4, 4], depths=[2, 2, 10, 4], sr_ratios=[8, 4, 2, 1],
                                windiow_sizes=[7, 7, 7, 7], qkv_bias=True, drop_path_rate=0.0,
                                norm_after_stage=True)),
        'timm': ('timm', dict(model_name='twins_svt_small')),
    },
}
