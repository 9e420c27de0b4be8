# RetinaNet with EMO-5M on COCO, 1x schedule: the setting of the official
# down-stream-tasks/mmdetection/configs/retinanet_emo/retinanet_emo_5M_fpn_1x_coco.py (zhangzjn/EMO,
# mmdet 2.x): mmdet's RetinaNet R50-FPN 1x (FPN from stage 2, extra convs on its input), attention
# windows of 10, drop path 0.05, stem + stage 1 frozen, BatchNorms in eval mode, AdamW lr 2e-4 with
# weight decay 0.05 (none on norms), 500 linear warm-up iterations then cosine to 0, 8 GPUs x 4
# images, with our backbone and the official ImageNet-1k weights (converted on load).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/zhangzjn/EMO/raw/main/resources/EMO_5M/net.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.EMO',
        arch='5m',
        window_size=10,
        drop_path_rate=0.05,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[48, 72, 160, 288], start_level=1, add_extra_convs='on_input', num_outs=5))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.0)}))
max_epochs = 12
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=0, end=max_epochs, T_max=max_epochs, by_epoch=True)
]
train_dataloader = dict(batch_size=4)
auto_scale_lr = dict(enable=False, base_batch_size=32)
