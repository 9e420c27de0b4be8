# RetinaNet with Focal-T on COCO, 1x schedule. Published (official README): box AP 43.7. No official
# detection code exists; this combines the Swin-style optimisation of mask_rcnn_focal_t_fpn_1x_coco.py
# with the RetinaNet neck of the PVT/LITv2 comparisons (all four stages, start_level 1, extra convs on
# the input), single-scale 1x.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-tiny-is224-ws7.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.FocalTransformer',
        arch='tiny',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        in_channels=[96, 192, 384, 768],
        out_channels=256,
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    paramwise_cfg=dict(custom_keys={
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }),
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05))
auto_scale_lr = dict(enable=False, base_batch_size=16)
