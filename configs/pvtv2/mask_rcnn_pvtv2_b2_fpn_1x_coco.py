# Mask R-CNN with PVTv2-b2 on COCO, 1x: official detection/configs/mask_rcnn_pvt_v2_b2_fpn_1x_coco.py.
_base_ = './mask_rcnn_pvtv2_b0_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='b2',
        init_cfg=dict(checkpoint='https://github.com/whai362/PVT/releases/download/v2/pvt_v2_b2.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]))
