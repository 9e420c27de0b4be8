# RetinaNet with EMO-2M on COCO, 1x: the official retinanet_emo_2M_fpn_1x_coco.py has the recipe of
# retinanet_emo_5m_fpn_1x_coco.py with windows of 7 (the arch's own) and the 2M weights.
_base_ = './retinanet_emo_5m_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='2m', window_size=7,
                  init_cfg=dict(checkpoint='https://github.com/zhangzjn/EMO/raw/main/resources/EMO_2M/net.pth')),
    neck=dict(in_channels=[32, 48, 120, 200]))
