PRESETS = {
    # no peer implementation of ViT-Adapter on the OpenMMLab 2.x stack; BN stands in for SyncBN
    'vit-adapter-t': {
        'ours': ('vitdense', dict(type='ViTAdapter', arch='tiny', norm_cfg=dict(type='BN'),
                                  window_attn=[True, True, False] * 4, window_size=[14, 14, None] * 4)),
    },
    'deit-t': {
        'ours': ('vitdense', dict(type='ViT', arch='tiny', with_cls_token=True, final_norm=True)),
        'mmpretrain': ('mmpretrain', dict(type='VisionTransformer', arch='deit-tiny', out_type='featmap')),
        'timm': ('timm', dict(model_name='deit_tiny_patch16_224')),
    },
}
