# RetinaNet with PVTv2-b1 on COCO, 1x: official detection/configs/retinanet_pvt_v2_b1_fpn_1x_coco.py.
_base_ = './retinanet_pvtv2_b0_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='b1',
        init_cfg=dict(checkpoint='https://github.com/whai362/PVT/releases/download/v2/pvt_v2_b1.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]))
