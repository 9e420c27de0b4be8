# RetinaNet with Twins-PCPVT-S on COCO, 1x schedule ("PVT setting"): the official
# detection/configs/retinanet_pcpvt_s_fpn_1x_coco_pvt_setting.py (Meituan-AutoML/Twins): AdamW lr
# 1e-4, weight decay 1e-4, 500-iteration warm-up, steps at 8 and 11, drop path 0.2.
# The official ImageNet weights are on Google Drive; this points at OpenMMLab's copy of the same
# weights (renamed by mmseg's twins2mmseg), which our converter reads directly.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/pcpvt_small_20220308-e638c41c.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.TwinsPCPVT',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512], start_level=1, add_extra_convs='on_input', num_outs=5))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
