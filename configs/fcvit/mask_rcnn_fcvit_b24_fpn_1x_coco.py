# Mask R-CNN with FCViT-B24 on COCO, 1x schedule: the official
# detection/configs/mask_rcnn_fcvit_b24_fpn_1x_coco.py has the recipe of
# mask_rcnn_fcvit_b12_fpn_1x_coco.py; only the backbone differs (same channels).
_base_ = './mask_rcnn_fcvit_b12_fpn_1x_coco.py'

model = dict(backbone=dict(arch='b24', init_cfg=dict(checkpoint='checkpoints/fcvit_b24.pth.tar')))
