# Semantic FPN with DilateFormer-S on ADE20K, 512x512 crops. The paper reports Semantic FPN on
# ADE20K, but no segmentation code or config was released; this is the PVT / PoolFormer Semantic FPN
# recipe (as ../fcvit/fpn_fcvit_b12_512x512_40k_ade20k.py: 40k iterations, AdamW lr 2e-4 at 8 GPUs x 4
# images, weight decay 1e-4, poly decay with power 0.9) with DilateFormer-S; drop path 0.1 is our
# choice. Official ImageNet-1k weights: Google Drive / Baidu Pan only (official README); download them
# and set `pretrained`.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/dilateformer_small.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.DilateFormer',
        arch='small',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[72, 144, 288, 576]),
    decode_head=dict(num_classes=150))

max_iters = 40000
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000))
train_dataloader = dict(batch_size=4)
