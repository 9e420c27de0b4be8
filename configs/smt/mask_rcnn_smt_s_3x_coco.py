# Mask R-CNN with SMT-S on COCO, 3x schedule with multi-scale training and DETR-style crops: the
# setting of the official detection/configs (AFeng-x/SMT: mask_rcnn_smt_s_fpn.py for the model,
# mask_rcnn_smt_b_fpn_mstrain-poly_3x_coco.py for the 3x recipe): drop path 0.2 applied as
# element-wise dropout (the official dense code's nn.Dropout), AdamW 2e-4 / wd 0.05 without decay
# on norms, 500-iteration warm-up, steps at epochs 27 and 33, 8 GPUs x 2 images.
# mmdet's Swin 3x config has exactly this data pipeline.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_small.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.SMT',
        arch='small',
        qkv_bias=True,
        drop_path_rate=0.2,
        drop_path_as_dropout=True,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }),
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05))
auto_scale_lr = dict(enable=False, base_batch_size=16)
