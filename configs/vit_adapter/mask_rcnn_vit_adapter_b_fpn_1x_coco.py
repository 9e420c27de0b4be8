# Mask R-CNN with ViT-Adapter-B on COCO, 1x: official mask_rcnn_deit_adapter_base_fpn_1x_coco.py
# (DeiT-B, drop path 0.3, deform_ratio 0.5 from the arch zoo, AdamW 1e-4 / wd 0.05).
_base_ = './mask_rcnn_vit_adapter_t_fpn_1x_coco.py'

pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth'
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[768, 768, 768, 768]))
optim_wrapper = dict(optimizer=dict(lr=0.0001, weight_decay=0.05))
