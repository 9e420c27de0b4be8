# Semantic FPN with CloFormer-S on ADE20K, 40k: the recipe of fpn_cloformer_xxs_512x512_40k_ade20k.py
# (our choice; no official segmentation config exists) with the S backbone and drop path 0.06.
_base_ = './fpn_cloformer_xxs_512x512_40k_ade20k.py'

model = dict(
    backbone=dict(arch='s', drop_path_rate=0.06, init_cfg=dict(checkpoint='checkpoints/cloformer_s_in1k.pth')),
    neck=dict(in_channels=[64, 128, 224, 448]))
