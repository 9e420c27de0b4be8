# Semantic FPN with CloFormer-XXS on ADE20K, 512x512 crops, 40k iterations. The paper's segmentation
# code and configs were not released, so this is our recipe choice, PVTv2's official
# fpn_pvtv2_b0_ade20k_40k.py (whai362/PVTv2-Seg, as ../pvtv2/fpn_pvtv2_b0_512x512_40k_ade20k.py):
# AdamW lr 2e-4 (8 GPUs x 4 images), weight decay 1e-4, poly decay with power 0.9; drop path 0.0
# (the official ImageNet value for XXS). `pretrained`: a local ImageNet-1k checkpoint (no official
# weights exist; converted on load).
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/cloformer_xxs_in1k.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.CloFormer',
        arch='xxs',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 128, 256]),
    decode_head=dict(num_classes=150))

max_iters = 40000
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000))
train_dataloader = dict(batch_size=4)
