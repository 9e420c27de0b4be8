# BiFormer-S ImageNet-1k classification (mmpretrain). The official recipe (rayleizhu/BiFormer
# main.py, DeiT code base): AdamW, lr 5e-4 per 512 images, weight decay 0.05, 300 epochs of cosine
# decay after 5 warm-up epochs, RandAugment / Mixup 0.8 / CutMix 1.0 / label smoothing 0.1 /
# random erasing 0.25, drop path 0.15 for BiFormer-S, EMA. mmpretrain's Swin recipe is the same
# DeiT-style recipe; we override the warm-up length and drop path. The classifier keeps the
# official final BatchNorm (out_norm='bn') and n_win=7 (224-px inputs, 8x8-token regions).
_base_ = 'mmpretrain::swin_transformer/swin-small_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.BiFormer',
        arch='small',
        n_win=7,
        drop_path_rate=0.15,
        out_indices=(3,),
        out_norm='bn'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
optim_wrapper = dict(clip_grad=None)  # the official recipe does not clip
custom_hooks = [dict(type='EMAHook', momentum=4e-5, priority='ABOVE_NORMAL')]
