# SSDLite with EMO-1M on COCO: the official ssdlite_emo_1M_pretrain_coco.py has the recipe of
# ssdlite_emo_5m_8xb24-120e_coco.py with windows of 7, drop path 0.04036 and the 1M weights.
_base_ = './ssdlite_emo_5m_8xb24-120e_coco.py'

model = dict(
    backbone=dict(arch='1m', window_size=7, drop_path_rate=0.04036,
                  init_cfg=dict(checkpoint='https://github.com/zhangzjn/EMO/raw/main/resources/EMO_1M/net.pth')),
    neck=dict(in_channels=(80, 168), out_channels=(80, 168, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(80, 168, 512, 256, 256, 128)))
