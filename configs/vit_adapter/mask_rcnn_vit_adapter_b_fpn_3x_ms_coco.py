# Mask R-CNN with ViT-Adapter-B on COCO, 3x + multi-scale:
# official mask_rcnn_deit_adapter_base_fpn_3x_coco.py.
_base_ = './mask_rcnn_vit_adapter_t_fpn_3x_ms_coco.py'

pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth'
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[768, 768, 768, 768]))
