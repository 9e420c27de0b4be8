# Semantic FPN with FastViT-MA36 on ADE20K, 512x512 crops, 40k iterations: the setting of
# fpn_fastvit_sa12_512x512_40k_ade20k.py (the paper's, PoolFormer's protocol) with the MA36
# backbone and its official unfused ImageNet-1k checkpoint.
_base_ = './fpn_fastvit_sa12_512x512_40k_ade20k.py'

pretrained = 'https://docs-assets.developer.apple.com/ml-research/models/fastvit/image_classification_models/fastvit_ma36.pth.tar'
model = dict(
    backbone=dict(arch='ma36', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[76, 152, 304, 608]))
