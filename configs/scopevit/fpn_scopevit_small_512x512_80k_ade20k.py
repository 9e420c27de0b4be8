# Semantic FPN with ScopeViT-small on ADE20K, 512x512 crops, 80k iterations: the setting of the official
# segmentation/configs/sem_fpn/scopevit/fpn_scopevit_small_80k_ade20k.py (xuesongnie/ScopeViT): 8 GPUs x 4 images,
# AdamW lr 2e-4, weight decay 1e-4, poly decay with power 0.9, drop path 0.1.
# No ImageNet checkpoint is published (the official configs leave `checkpoint=''`): point
# the backbone's init_cfg to a ScopeViT classification file (loaded as it is, head dropped).
_base_ = './fpn_scopevit_xtiny_512x512_80k_ade20k.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1),
    neck=dict(in_channels=[64, 128, 256, 512]))
