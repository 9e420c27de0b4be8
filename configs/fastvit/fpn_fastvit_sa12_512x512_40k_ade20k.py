# Semantic FPN with FastViT-SA12 on ADE20K, 512x512 crops, 40k iterations: the segmentation setting
# of the FastViT paper (arXiv 2303.14189, Sec. 4.3, PoolFormer's Semantic FPN protocol: AdamW lr 2e-4,
# 8 GPUs x 4 images, weight decay 1e-4, poly decay with power 0.9). apple/ml-fastvit releases no
# segmentation config: the optimizer values are PoolFormer's (sail-sg/poolformer segmentation/configs).
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://docs-assets.developer.apple.com/ml-research/models/fastvit/image_classification_models/fastvit_sa12.pth.tar'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.FastViT',
        arch='sa12',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        out_norm=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]),
    decode_head=dict(num_classes=150))

max_iters = 40000
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000))
train_dataloader = dict(batch_size=4)
