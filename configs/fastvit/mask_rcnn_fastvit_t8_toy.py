# The Mask R-CNN of mask_rcnn_fastvit_sa12_fpn_1x_coco.py shrunk to the embedded toy COCO dataset:
# the toy schedule and data of ../swin/mask_rcnn_swin_t_toy.py with a randomly initialised FastViT-T8.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.FastViT', arch='t8', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[48, 96, 192, 384]))
