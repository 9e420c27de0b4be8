# Mask R-CNN with Agent-PVT-T on COCO, 1x schedule: the setting of the official
# downstream/detection/configs/agent_pvt/agent_pvt_t_mrcnn_1x_12-16-28-28.py (LeapLabTHU/Agent-Attention):
# PVT's 1x Mask R-CNN (AdamW 2e-4, weight decay 1e-4, single scale) with pooled agent grids
# 12-16-28-28 and drop path 0.1. The official ImageNet-1k checkpoint loads as it is.
_base_ = '../pvt/mask_rcnn_pvt_t_fpn_1x_coco.py'

pretrained = 'https://cloud.tsinghua.edu.cn/f/13fdf0e0a7c5498c934f/?dl=1'  # agent_pvt_t ImageNet-1k
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.AgentPVT',
        arch='tiny',
        agent_shapes=(12, 16, 28, 28),
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512]))
