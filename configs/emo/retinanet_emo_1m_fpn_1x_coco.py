# RetinaNet with EMO-1M on COCO, 1x: the official retinanet_emo_1M_fpn_1x_coco.py has the recipe of
# retinanet_emo_5m_fpn_1x_coco.py with windows of 7 and drop path 0.04036. It sets
# `pretrained=None` (no ImageNet weights), unlike every other official dense config; we load the
# 1M ImageNet weights as the others do (see README.md).
_base_ = './retinanet_emo_5m_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='1m', window_size=7, drop_path_rate=0.04036,
                  init_cfg=dict(checkpoint='https://github.com/zhangzjn/EMO/raw/main/resources/EMO_1M/net.pth')),
    neck=dict(in_channels=[32, 48, 80, 168]))
