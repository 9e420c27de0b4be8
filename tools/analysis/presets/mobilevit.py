# Both peers build the same network (timm returns its stages through forward_intermediates,
# mmpretrain's stages 1-4 are ours 0-3 with its conv_1x1_exp on the last).
PRESETS = {
    'mobilevit-xxs': {
        'ours': ('vitdense', dict(type='MobileViT', arch='xxs')),
        'mmpretrain': ('mmpretrain', dict(type='MobileViT', arch='xx_small', out_indices=(1, 2, 3, 4))),
        'timm': ('timm', dict(model_name='mobilevit_xxs')),
    },
    'mobilevit-s': {
        'ours': ('vitdense', dict(type='MobileViT', arch='s')),
        'mmpretrain': ('mmpretrain', dict(type='MobileViT', arch='small', out_indices=(1, 2, 3, 4))),
        'timm': ('timm', dict(model_name='mobilevit_s')),
    },
}
