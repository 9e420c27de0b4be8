# Semantic FPN with PoolFormer-S36 on ADE20K, 512x512 crops, 40k iterations: the official
# segmentation/configs/sem_fpn/PoolFormer/fpn_poolformer_s36_ade20k_40k.py (sail-sg/poolformer) has
# the recipe of fpn_poolformer_s12_512x512_40k_ade20k.py; only the backbone differs.
_base_ = './fpn_poolformer_s12_512x512_40k_ade20k.py'

model = dict(
    backbone=dict(
        arch='s36',
        init_cfg=dict(checkpoint='https://github.com/sail-sg/poolformer/releases/download/v1.0/poolformer_s36.pth.tar')),
    neck=dict(in_channels=[64, 128, 320, 512]))
