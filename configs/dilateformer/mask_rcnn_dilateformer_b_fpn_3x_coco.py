# Mask R-CNN with DilateFormer-B on COCO, 3x schedule with multi-scale + crop augmentation. No official
# detection config exists (classification code only), so this is mmdet's ConvNeXt 3x setting
# (36 epochs, steps at 27 and 33, multi-scale resize / crop choice, fp16) with the Swin-style
# optimizer (AdamW 1e-4, weight decay 0.05, none on norms); drop path 0.3 is our choice.
# Official ImageNet-1k weights: Google Drive / Baidu Pan only (official README); download them and
# set `pretrained`.
_base_ = 'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'
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
