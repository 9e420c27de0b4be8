# Semantic FPN with PVTv2-b1 on ADE20K, 40k: the official whai362/PVTv2-Seg
# configs/sem_fpn/PVTv2/fpn_pvtv2_b1_ade20k_40k.py.
_base_ = './fpn_pvtv2_b0_512x512_40k_ade20k.py'

model = dict(
    backbone=dict(
        arch='b1',
        init_cfg=dict(checkpoint='https://github.com/whai362/PVT/releases/download/v2/pvt_v2_b1.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]))
