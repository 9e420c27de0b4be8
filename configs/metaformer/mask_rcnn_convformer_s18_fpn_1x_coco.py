# Mask R-CNN with ConvFormer-S18 on COCO, 1x schedule. Neither the paper's official README nor its
# repository (sail-sg/metaformer, classification only) gives a dense setting or number; this takes
# the PoolFormer recipe (mask_rcnn_poolformer_s12_fpn_1x_coco.py: AdamW lr 2e-4, weight decay 1e-4)
# with drop path 0.1, and the official ImageNet-1k checkpoint (converted on load). No reference result.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/sail/dl/resolve/main/convformer/convformer_s18.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ConvFormer',
        arch='s18',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
