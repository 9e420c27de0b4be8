# RetinaNet with PVTv2-b0 on COCO, 1x schedule: the setting of the official
# detection/configs/retinanet_pvt_v2_b0_fpn_1x_coco.py (whai362/PVT, v2; equal to mmdet's
# configs/pvt/retinanet_pvtv2-b0_fpn_1x_coco.py), with our backbone and the official ImageNet-1k
# checkpoint (converted on load).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
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
    neck=dict(in_channels=[32, 64, 160, 256], start_level=1, add_extra_convs='on_input', num_outs=5))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001))
# The reference numbers were trained on 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
