# RetinaNet with LITv2-S on COCO, 1x schedule: the setting of the official
# detection/configs/litv2/retinanet_litv2_s_fpn_1x_coco.py (ziplab/LITv2) with our backbone and the
# official ImageNet-1k checkpoint. Published: box AP 44.0.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/ziplab/LITv2/releases/download/v1.0/litv2_s.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.LITv2',
        arch='small',
        alpha=0.9,
        local_ws=(0, 0, 2, 1),
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=(0, 1, 2, 3),
        out_norm=(False, True, True, True),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        in_channels=[96, 192, 384, 768],
        out_channels=256,
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5))

# Official: AdamW lr 1e-4, weight decay 1e-4, fp16, steps at 8 and 11. (Its paramwise_cfg lacks the
# ``custom_keys`` level, so norms were decayed as well; reproduced as trained.)
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
