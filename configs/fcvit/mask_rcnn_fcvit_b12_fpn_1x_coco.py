# Mask R-CNN with FCViT-B12 on COCO, 1x schedule: the setting of the official
# detection/configs/mask_rcnn_fcvit_b12_fpn_1x_coco.py (ma-xu/FCViT, mmdet 2.19): mmdet's Mask R-CNN
# R50-FPN 1x, AdamW lr 2e-4, weight decay 1e-4, no gradient clipping, mixed precision, 8 GPUs x 4
# images (its _base_/datasets/coco_instance.py), no drop path, with our backbone (the official
# fcvit_b12_feat: GroupNorm on each returned stage). The official ImageNet-1k weights are in a Google
# Drive folder (link in README.md), not downloadable by URL: fetch fcvit_b12.pth.tar by hand and
# point `pretrained` at it (converted on load).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/fcvit_b12.pth.tar'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.FCViT',
        arch='b12',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    type='AmpOptimWrapper', optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, weight_decay=0.0001))
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(enable=False, base_batch_size=32)
