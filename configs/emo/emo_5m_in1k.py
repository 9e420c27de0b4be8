# EMO-5M ImageNet-1k classification (mmpretrain), after the official configs/mobile/cls_emo.py
# (zhangzjn/EMO): 8 GPUs x 256 images, AdamW lr 1.5e-3 at batch 2048, weight decay 0.05, 300 epochs
# with 20 warm-up epochs then cosine, gradient clipping at 5, RandAugment (m9, mstd 0.5) without
# Mixup/CutMix (their probability is 0 there) or random erasing, label smoothing 0.1, model EMA
# 0.9998, drop path 0.05 (0.04036 for 1M), test resize 256 -> centre crop 224 (bicubic).
# Deliberate difference: the official classifier puts a channels-first LayerNorm on the last stage
# before pooling; mmpretrain has no such neck, so the head here sees the raw stage-4 map (pooled).
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.EMO', arch='5m', drop_path_rate=0.05, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=288),
    train_cfg=None)

bgr_mean = [103.53, 116.28, 123.675]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10, magnitude_level=9,
         magnitude_std=0.5, hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=256, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=1.5e-3, weight_decay=0.05), clip_grad=dict(max_norm=5.0))
custom_hooks = [dict(type='EMAHook', momentum=2e-4, priority='ABOVE_NORMAL')]
auto_scale_lr = dict(base_batch_size=2048)
