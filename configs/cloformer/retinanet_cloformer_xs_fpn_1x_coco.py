# RetinaNet with CloFormer-XS on COCO, 1x: the recipe of retinanet_cloformer_xxs_fpn_1x_coco.py (our
# choice; no official detection config exists) with the XS backbone and its ImageNet drop path 0.06.
_base_ = './retinanet_cloformer_xxs_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='xs', drop_path_rate=0.06, init_cfg=dict(checkpoint='checkpoints/cloformer_xs_in1k.pth')),
    neck=dict(in_channels=[48, 96, 160, 352]))
