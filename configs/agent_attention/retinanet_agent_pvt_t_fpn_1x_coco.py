# RetinaNet with Agent-PVT-T on COCO, 1x schedule: the setting of the official
# downstream/detection/configs/agent_pvt/agent_pvt_t_rtn_1x_12-16-28-28.py (LeapLabTHU/Agent-Attention):
# PVT's 1x RetinaNet (AdamW 1e-4, weight decay 1e-4) with pooled agent grids 12-16-28-28 and drop
# path 0.1. The official ImageNet-1k checkpoint loads as it is.
_base_ = '../pvt/retinanet_pvt_t_fpn_1x_coco.py'

pretrained = 'https://cloud.tsinghua.edu.cn/f/13fdf0e0a7c5498c934f/?dl=1'  # agent_pvt_t ImageNet-1k
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.AgentPVT',
        arch='tiny',
        agent_shapes=(12, 16, 28, 28),
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
