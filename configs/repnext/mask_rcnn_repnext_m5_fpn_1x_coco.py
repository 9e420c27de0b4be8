# Mask R-CNN with RepNeXt-M5 on COCO, 1x schedule: the recipe of the official
# detection/configs/mask_rcnn_repnext_m5_fpn_1x_coco.py (suous/RepNeXt; its run log
# detection/logs/repnext_m5_coco.json): mmdet's Mask R-CNN R-50-FPN 1x (single scale 1333x800),
# 8 GPUs x 2 images, AdamW lr 2e-4, weight decay 0.05 (on every parameter), no gradient clipping,
# linear warm-up over 500 iterations from 1e-6 of the rate, steps at epochs 8 and 11; the backbone
# keeps every BatchNorm in eval mode (the official backbone's train()) and freezes no stage (the
# official backbone ignores the config's frozen_stages). The official ImageNet-1k distilled
# checkpoint (training form) is converted on load, its classifier dropped.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/suous/RepNeXt/releases/download/v1.0/repnext_m5_distill_300e.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.RepNeXt',
        arch='m5',
        out_indices=(0, 1, 2, 3),
        norm_eval=True,
        frozen_stages=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[80, 160, 320, 640]))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
