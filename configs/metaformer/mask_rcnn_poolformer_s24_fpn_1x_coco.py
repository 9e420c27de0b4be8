# Mask R-CNN with PoolFormer-S24 on COCO, 1x schedule: the official
# detection/configs/mask_rcnn_poolformer_s24_fpn_1x_coco.py (sail-sg/poolformer) has the recipe of
# mask_rcnn_poolformer_s12_fpn_1x_coco.py; only the backbone differs.
_base_ = './mask_rcnn_poolformer_s12_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='s24',
        init_cfg=dict(checkpoint='https://github.com/sail-sg/poolformer/releases/download/v1.0/poolformer_s24.pth.tar')))
