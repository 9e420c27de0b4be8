# Cascade Mask R-CNN (4conv1fc heads, GIoU) with ConvNeXt-T on COCO, 3x multi-scale + crop: the
# setting of mmdet's configs/convnext/
# cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py (= the official
# cascade_mask_rcnn_convnext_tiny_..._3x_coco_in1k.py: drop path 0.4, AdamW 2e-4, layer-wise lr decay
# 0.7 over 6 layers, AMP, 36 epochs) with our backbone and the official checkpoint.
_base_ = 'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ConvNeXt',
        arch='tiny',
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
auto_scale_lr = dict(enable=False, base_batch_size=16)
