# Mask R-CNN with Shunted-S on COCO, 1x schedule. The official repository has no detection code; its
# author states (OliverRensu/Shunted-Transformer issue #17) that detection follows the PVT v2 code
# (whai362/PVT, v2 detection/): mmdet's Mask R-CNN R50-FPN 1x, AdamW lr 2e-4, weight decay 1e-4,
# 8 GPUs x 2 images, with our backbone. Drop path 0.1 is PVT v2's detection value (the Shunted
# setting is not published). The official ImageNet-1k weights are in a Google Drive / Baidu Pan
# folder (official README), not downloadable by URL: fetch the Shunted-S file by hand and point
# `pretrained` at it (converted on load: `mlp.dwconv.dwconv` renamed, `head` dropped).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/shunted_s.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ShuntedTransformer',
        arch='small',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
