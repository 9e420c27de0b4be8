# The Mask R-CNN of mask_rcnn_transnext_tiny_fpn_1x_coco.py with the smallest variant,
# TransNeXt-Micro, on the embedded toy COCO dataset: CPU-sized images, random init, the position
# bias generated for the toy images' 160 px. Used by the CI training test.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.TransNeXt',
        arch='micro',
        img_size=160,
        pretrain_size=224,
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(in_channels=[48, 96, 192, 384]))
