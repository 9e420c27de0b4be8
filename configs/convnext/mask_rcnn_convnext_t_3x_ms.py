# Mask R-CNN with ConvNeXt-T on COCO, 3x schedule with multi-scale + crop augmentation: the setting of
# mmdet's configs/convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py (itself a port of
# the official object_detection/configs/convnext/mask_rcnn_convnext_tiny_..._adamw_3x_coco_in1k.py):
# drop path 0.4, AdamW 1e-4, layer-wise lr decay 0.95 over 6 layers (mmdet's
# LearningRateDecayOptimizerConstructor, which recognises our ConvNeXt by its class name and
# parameter names), AMP, 36 epochs with steps at 27 and 33. Our backbone loads the official
# ImageNet-1k release directly (the checkpoint the official dense results were fine-tuned from).
_base_ = 'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ConvNeXt',
        arch='tiny',
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,  # as the official config; overwritten by the checkpoint's gamma
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
# The reference numbers were trained on 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
