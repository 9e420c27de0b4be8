# RetinaNet with PVT-Tiny on COCO, 1x schedule: the setting of the official
# detection/configs/retinanet_pvt_t_fpn_1x_coco.py (whai362/PVT; mmdet's own
# configs/pvt/retinanet_pvt-t_fpn_1x_coco.py is the same), with our backbone and the official
# ImageNet-1k checkpoint (converted on load: class token and its position dropped).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/whai362/PVT/releases/download/v2/pvt_tiny.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.PVT',
        arch='tiny',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 320, 512], start_level=1, add_extra_convs='on_input', num_outs=5))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001))
# The reference numbers were trained on 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
