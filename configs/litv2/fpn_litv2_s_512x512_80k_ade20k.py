# Semantic FPN with LITv2-S on ADE20K, 512x512 crops, 80k iterations: the setting of the official
# segmentation/configs/litv2/litv2_s_fpn_r50_512x512_80k_ade20k.py (ziplab/LITv2) with our backbone
# and the official ImageNet-1k checkpoint. Published: mIoU 44.3.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/ziplab/LITv2/releases/download/v1.0/litv2_s.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.LITv2',
        arch='small',
        alpha=0.9,
        local_ws=(0, 0, 2, 1),
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        out_norm=True,  # the official segmentation code normalises all four outputs
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768], out_channels=256, num_outs=4),
    decode_head=dict(num_classes=150))

# Official: AdamW lr 1e-4, weight decay 1e-4, poly decay (power 0.9, min 1e-6) over 80k iterations,
# 8 GPUs x 2 images.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=0, end=80000, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=8000))
train_dataloader = dict(batch_size=2)
