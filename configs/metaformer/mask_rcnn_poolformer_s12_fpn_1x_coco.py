# Mask R-CNN with PoolFormer-S12 on COCO, 1x schedule: the setting of the official
# detection/configs/mask_rcnn_poolformer_s12_fpn_1x_coco.py (sail-sg/poolformer; AdamW lr 2e-4,
# weight decay 1e-4, 8 GPUs x 2 images, no drop path), with our backbone and the official ImageNet-1k
# checkpoint (converted on load).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/sail-sg/poolformer/releases/download/v1.0/poolformer_s12.pth.tar'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.PoolFormer',
        arch='s12',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
