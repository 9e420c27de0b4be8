# Mask R-CNN with ScopeViT-small on COCO, 1x schedule: the setting of the official
# detection/configs/scopevit/mask_rcnn_scopevit_small_fpn_1x_coco.py (xuesongnie/ScopeViT): mmdet's single-scale
# 1x Mask R-CNN, drop path 0.1, AdamW lr 2e-4, weight decay 0.05 (decay_mult 0 on keys
# 'layer_scale' / 'scale' / 'norm': of our, the official, names only norms match), 8 GPUs x 2 images.
# No ImageNet checkpoint is published (the official configs leave `checkpoint=''`): point
# the backbone's init_cfg to a ScopeViT classification file (loaded as it is, head dropped).
_base_ = './mask_rcnn_scopevit_xtiny_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1),
    neck=dict(in_channels=[64, 128, 256, 512]))
