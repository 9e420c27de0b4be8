# Mask R-CNN with LITv2-S on COCO, 1x schedule: the setting of the official
# detection/configs/litv2/mask_rcnn_litv2_s_fpn_1x_coco.py (ziplab/LITv2) with our backbone and the
# official ImageNet-1k checkpoint (converted on load). Published: box AP 44.9, mask AP 40.8.
# LITv2-M / -B: arch='medium' (drop_path_rate 0.2, litv2_m.pth) / arch='base' (0.3, with_cp=True,
# litv2_b.pth, neck in_channels [128, 256, 512, 1024]); the "ws 4" models: local_ws=(0, 0, 4, 1).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/ziplab/LITv2/releases/download/v1.0/litv2_s.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.LITv2',
        arch='small',
        alpha=0.9,
        local_ws=(0, 0, 2, 1),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.,
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        out_norm=(False, True, True, True),  # the official detection code has no norm on stage 1
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))

# Official: AdamW lr 2e-4, weight decay 1e-4 (none on norms), steps at epochs 8 and 11, fp16 on
# 8 GPUs x 2 images (mmdet's 500-iteration linear warm-up of the 1x schedule).
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.0001),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
