# Semantic FPN with ScopeViT-xtiny on ADE20K, 512x512 crops, 80k iterations: the setting of the official
# segmentation/configs/sem_fpn/scopevit/fpn_scopevit_xtiny_80k_ade20k.py (xuesongnie/ScopeViT): 8 GPUs x 4 images,
# AdamW lr 2e-4, weight decay 1e-4, poly decay with power 0.9, drop path 0.05.
# No ImageNet checkpoint is published (the official configs leave `checkpoint=''`): point
# the backbone's init_cfg to a ScopeViT classification file (loaded as it is, head dropped).
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.ScopeViT',
        arch='xtiny',
        drop_path_rate=0.05,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),  # dict(type='Pretrained', checkpoint=PATH) once ImageNet weights exist
    neck=dict(in_channels=[32, 64, 128, 256]),
    decode_head=dict(num_classes=150))

max_iters = 80000
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000))
train_dataloader = dict(batch_size=4)
