# Mask R-CNN with ViT-Adapter-S on COCO, 3x + multi-scale:
# official mask_rcnn_deit_adapter_small_fpn_3x_coco.py.
_base_ = './mask_rcnn_vit_adapter_t_fpn_3x_ms_coco.py'

pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth'
model = dict(
    backbone=dict(arch='small', drop_path_rate=0.2, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[384, 384, 384, 384]))
