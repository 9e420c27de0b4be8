# RetinaNet with BiFormer-S on COCO, 1x schedule: the setting of the official
# object_detection/configs/coco/retinanet.1x.biformer_small.py (rayleizhu/BiFormer): 16 routing
# regions per side, drop path 0.2, FPN from stride 8 with extra convs on the input (mmdet's
# RetinaNet default), AdamW 1e-4 / wd 1e-4 (no parameter-wise rules), steps at epochs 8 and 11,
# mixed precision (fp16 loss scale 512), 8 GPUs x 2 images.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://api.onedrive.com/v1.0/shares/s!AkBbczdRlZvChHDyM-x9KWRBZ832/root/content'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.BiFormer',
        arch='small',
        n_win=16,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        out_norm='ln',
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512], start_level=1, add_extra_convs='on_input'))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale=512.,
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
