# The Mask R-CNN of mask_rcnn_pvtv2_b0_fpn_1x_coco.py shrunk to the embedded toy COCO dataset: the
# toy schedule and data of ../swin/mask_rcnn_swin_t_toy.py with a randomly initialised PVTv2-b0.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.PVTv2', arch='b0', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[32, 64, 160, 256]))
