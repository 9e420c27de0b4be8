# Mask R-CNN with PVTv2-b0 on COCO, 1x schedule: the setting of the official
# detection/configs/mask_rcnn_pvt_v2_b0_fpn_1x_coco.py (whai362/PVT, v2), with our backbone and the
# official ImageNet-1k checkpoint (converted on load).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/whai362/PVT/releases/download/v2/pvt_v2_b0.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.PVTv2',
        arch='b0',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 160, 256]))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
