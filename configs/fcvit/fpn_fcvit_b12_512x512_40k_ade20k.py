# Semantic FPN with FCViT-B12 on ADE20K, 512x512 crops, 40k iterations: the setting of the official
# segmentation/configs/sem_fpn/fpn_fcvit_b12_ade20k_40k.py (ma-xu/FCViT, mmseg 0.19, the PVT /
# PoolFormer recipe): AdamW lr 2e-4 (8 GPUs x 4 images), weight decay 1e-4, poly decay with power
# 0.9, no drop path, with our backbone. The official ImageNet-1k weights are in a Google Drive
# folder (README.md): fetch fcvit_b12.pth.tar by hand and point `pretrained` at it.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/fcvit_b12.pth.tar'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.FCViT',
        arch='b12',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512]),
    decode_head=dict(num_classes=150))

max_iters = 40000
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000))
train_dataloader = dict(batch_size=4)
