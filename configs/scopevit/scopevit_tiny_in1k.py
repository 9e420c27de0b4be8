# ScopeViT-T ImageNet-1k classification (mmpretrain). The official classifier is exactly this
# backbone (every stage closed by its BatchNorm) + global average pooling + linear head, at 256 px
# (its default_cfg: input 256, crop 0.9, bicubic). The official repository's train.py is timm's
# trainer and no per-model recipe is published; this is mmpretrain's Swin recipe (AdamW 1e-3 x
# batch/1024, weight decay 0.05, 300 epochs, 20 warm-up epochs) with drop path 0.1, our choice,
# at the official 256-px resolution.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.ScopeViT', arch='tiny', drop_path_rate=0.1, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=256))
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
