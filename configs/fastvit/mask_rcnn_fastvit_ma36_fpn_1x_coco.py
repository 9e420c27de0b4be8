# Mask R-CNN with FastViT-MA36 on COCO, 1x schedule: the setting of
# mask_rcnn_fastvit_sa12_fpn_1x_coco.py (the paper's, PoolFormer's protocol) with the MA36 backbone
# and its official unfused ImageNet-1k checkpoint.
_base_ = './mask_rcnn_fastvit_sa12_fpn_1x_coco.py'

pretrained = 'https://docs-assets.developer.apple.com/ml-research/models/fastvit/image_classification_models/fastvit_ma36.pth.tar'
model = dict(
    backbone=dict(arch='ma36', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[76, 152, 304, 608]))
