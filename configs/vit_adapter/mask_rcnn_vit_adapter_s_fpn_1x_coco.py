# Mask R-CNN with ViT-Adapter-S on COCO, 1x: official mask_rcnn_deit_adapter_small_fpn_1x_coco.py
# (DeiT-S, drop path 0.2, AdamW 1e-4 / wd 0.05).
_base_ = './mask_rcnn_vit_adapter_t_fpn_1x_coco.py'

pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth'
model = dict(
    backbone=dict(arch='small', drop_path_rate=0.2, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[384, 384, 384, 384]))
optim_wrapper = dict(optimizer=dict(lr=0.0001, weight_decay=0.05))
