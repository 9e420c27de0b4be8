# SSDLite with EMO-2M on COCO: the official ssdlite_emo_2M_pretrain_coco.py has the recipe of
# ssdlite_emo_5m_8xb24-120e_coco.py with windows of 7 and the 2M weights.
_base_ = './ssdlite_emo_5m_8xb24-120e_coco.py'

model = dict(
    backbone=dict(arch='2m', window_size=7,
                  init_cfg=dict(checkpoint='https://github.com/zhangzjn/EMO/raw/main/resources/EMO_2M/net.pth')),
    neck=dict(in_channels=(120, 200), out_channels=(120, 200, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(120, 200, 512, 256, 256, 128)))
