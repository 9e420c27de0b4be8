# The Swin-T UperNet of upernet_swin_t_512x512_160k_ade20k.py on the embedded toy ADE20K dataset
# (tools/dataset/make_toy_ade20k.py): 9 of the ADE20K classes, 128 px crops, BN instead of SyncBN
# (one CPU process), narrower heads, a short from-scratch schedule. Used by the CI training test.
_base_ = './upernet_swin_t_512x512_160k_ade20k.py'

data_root = 'data/toy_ade20k'
# A subset of ADE20K's class names: mmseg maps their ids to 0..8 and everything else to 255.
classes = ('wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road', 'grass', 'water')
metainfo = dict(classes=classes)
crop_size = (128, 128)
img_scale = (160, 128)
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None, drop_path_rate=0.0),
    decode_head=dict(channels=128, num_classes=len(classes), norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=64, num_classes=len(classes), norm_cfg=norm_cfg))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=20, end=max_iters, by_epoch=False)
]
optim_wrapper = dict(optimizer=dict(lr=3e-4))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
