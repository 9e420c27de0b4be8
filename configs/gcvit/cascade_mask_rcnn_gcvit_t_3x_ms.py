# Cascade Mask R-CNN (4conv1fc heads with SyncBN, GIoU) with GC ViT-T on COCO, 3x multi-scale + crop:
# the official NVlabs/GCVit detection/configs/gcvit/cascade_mask_rcnn_gcvit_tiny_3x_coco.py. Heads,
# augmentation and 36-epoch schedule match mmdet's ConvNeXt cascade 3x config, inherited here; the
# official GC ViT optimizer replaces its layer-decay one: AdamW 1e-4, weight decay 0.05 with none on
# relative-position tables and norms, 2500 warm-up iterations; drop path 0.2, windows of 24.
_base_ = 'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/nvidia/GCViT/resolve/main/gcvit_1k_tiny.pth.tar'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.GCViT',
        arch='tiny',
        window_size=24,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=2500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1)
]
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }))
auto_scale_lr = dict(enable=False, base_batch_size=16)
