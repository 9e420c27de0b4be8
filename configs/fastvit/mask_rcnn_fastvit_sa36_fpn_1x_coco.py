# Mask R-CNN with FastViT-SA36 on COCO, 1x schedule: the setting of
# mask_rcnn_fastvit_sa12_fpn_1x_coco.py (the paper's, PoolFormer's protocol) with the SA36 backbone
# and its official unfused ImageNet-1k checkpoint.
_base_ = './mask_rcnn_fastvit_sa12_fpn_1x_coco.py'

pretrained = 'https://docs-assets.developer.apple.com/ml-research/models/fastvit/image_classification_models/fastvit_sa36.pth.tar'
model = dict(
    backbone=dict(arch='sa36', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))
