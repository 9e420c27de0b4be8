# FastViT-T8 ImageNet-1k classification (mmpretrain), the official recipe of apple/ml-fastvit
# train.py / README: AdamW lr 1e-3 at 8 GPUs x 128 images, weight decay 0.05, cosine over 300 epochs
# with 5 warm-up epochs, RandAugment m9, random erasing 0.25, mixup 0.2 / cutmix 1.0, label
# smoothing 0.1, 256x256 crops (crop ratio 0.9 at test), no drop path for T8. The mmpretrain
# PoolFormer recipe supplies the data and schedule skeleton. Deliberate difference: the official
# classifier adds ``conv_exp`` (a depth-wise 3x3 MobileOne block to 2C channels with
# squeeze-excitation) before pooling; here the head is global pooling + linear on the 384 stage-3
# channels, so official classifier weights load into the backbone only.
_base_ = 'mmpretrain::poolformer/poolformer-s12_32xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.FastViT', arch='t8', drop_path_rate=0.0, out_indices=(3, ),
                  out_norm=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=384),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.2), dict(type='CutMix', alpha=1.0)]))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=256, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10, magnitude_level=9,
         magnitude_std=0.5, hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02, max_area_ratio=1 / 3,
         fill_color=[103.53, 116.28, 123.675], fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=284, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=256),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5),
]
auto_scale_lr = dict(base_batch_size=1024)
