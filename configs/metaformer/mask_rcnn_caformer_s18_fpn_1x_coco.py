# Mask R-CNN with CAFormer-S18 on COCO, 1x schedule: mask_rcnn_convformer_s18_fpn_1x_coco.py (no
# published dense setting or number for either) with the CAFormer backbone and its official
# ImageNet-1k checkpoint. No reference result.
_base_ = './mask_rcnn_convformer_s18_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='vitdense.CAFormer',
        init_cfg=dict(checkpoint='https://huggingface.co/sail/dl/resolve/main/caformer/caformer_s18.pth')))
