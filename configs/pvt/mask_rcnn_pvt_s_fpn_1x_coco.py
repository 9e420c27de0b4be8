# Mask R-CNN with PVT-Small on COCO, 1x: official detection/configs/mask_rcnn_pvt_s_fpn_1x_coco.py.
_base_ = './mask_rcnn_pvt_t_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='https://github.com/whai362/PVT/releases/download/v2/pvt_small.pth')))
