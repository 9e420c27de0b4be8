# Cascade Mask R-CNN (4conv1fc heads with SyncBN, GIoU) with DilateFormer-B on COCO, 3x multi-scale +
# crop. No official detection config exists (classification code only), so this is mmdet's ConvNeXt
# cascade 3x setting (heads, augmentation, 36 epochs) with the Swin-style optimizer in place of its
# layer-decay one (AdamW 1e-4, weight decay 0.05, none on norms); drop path 0.3 is our choice.
# Official ImageNet-1k weights: Google Drive / Baidu Pan only (official README); download them and
# set `pretrained`.
_base_ = 'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/dilateformer_base.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DilateFormer',
        arch='base',
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
