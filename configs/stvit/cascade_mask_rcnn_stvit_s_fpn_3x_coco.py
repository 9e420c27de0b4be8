# Cascade Mask R-CNN (4conv1fc heads with SyncBN, GIoU) with STViT-R-Swin-S on COCO, 3x multi-scale +
# crop: the official configs/swin/cascade_mask_rcnn_swin_small_patch4_window7_mstrain_480-800_giou_4conv1f_
# adamw_3x_coco.py of changsn/STViT-R-Object-Detection (Swin's recipe: DETR-style resize/crop
# augmentation, AdamW 1e-4, weight decay 0.05 with none on norms and position tables, steps at 27
# and 33 of 36 epochs, AMP, drop path 0.2), written on mmdet 3.x's equal ConvNeXt cascade base.
# Initialised from the official ImageNet-1k STViT-R-Swin-S weights (Hugging Face csncsn/STViT-R).
_base_ = 'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/csncsn/STViT-R/resolve/main/STViT-R-Swin-S.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.STViTR',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'relative_position_bias_table': dict(decay_mult=0.),
                                    'norm': dict(decay_mult=0.)}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
