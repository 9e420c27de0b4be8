# RetinaNet with Twins-SVT-S on COCO, 1x ("PVT setting"): official
# detection/configs/retinanet_alt_gvt_s_fpn_1x_coco_pvt_setting.py. The official detection code
# pads LSA windows with zeros that take part in the attention: lsa_pad_mask=False reproduces it.
_base_ = './retinanet_pcpvt_s_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='vitdense.TwinsSVT',
        lsa_pad_mask=False,
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/alt_gvt_small_20220308-7e1c3695.pth')),  # noqa
    neck=dict(in_channels=[64, 128, 256, 512]))
