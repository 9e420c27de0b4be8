# Semantic FPN with FCViT-B24 on ADE20K, 512x512 crops, 40k iterations: the official
# segmentation/configs/sem_fpn/fpn_fcvit_b24_ade20k_40k.py has the recipe of
# fpn_fcvit_b12_512x512_40k_ade20k.py; only the backbone differs (same channels).
_base_ = './fpn_fcvit_b12_512x512_40k_ade20k.py'

model = dict(backbone=dict(arch='b24', init_cfg=dict(checkpoint='checkpoints/fcvit_b24.pth.tar')))
