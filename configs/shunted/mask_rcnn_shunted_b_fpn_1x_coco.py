# Mask R-CNN with Shunted-B on COCO, 1x schedule: the recipe of mask_rcnn_shunted_s_fpn_1x_coco.py;
# only the backbone differs (same channels).
_base_ = './mask_rcnn_shunted_s_fpn_1x_coco.py'

model = dict(backbone=dict(arch='base', init_cfg=dict(checkpoint='checkpoints/shunted_b.pth')))
