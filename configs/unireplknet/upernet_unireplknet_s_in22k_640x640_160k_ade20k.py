# UperNet with UniRepLKNet-S (ImageNet-22k) on ADE20K, 640x640 crops, 160k iterations: the official
# segmentation/configs/ade20k/upernet_unireplknet_s_in22k_640_160k_ade20k.py, i.e. the settings of
# upernet_unireplknet_t_512x512_160k_ade20k.py (see there) on mmseg's 640x640 ADE20K pipeline
# (inherited from mmseg's ConvNeXt-B 640 UperNet config: 2560x640 resize, 640x640 crops), with
# UniRepLKNet-S, drop path 0.3, layer-wise lr decay 0.9 (num_layers 12) and whole-image testing of
# the 2560x640 resize rounded to a multiple of 32.
# Official result: 52.3 mIoU single-scale, 52.7 multi-scale (official README). Not trained here.
_base_ = 'mmseg::convnext/convnext-base_upernet_8xb2-amp-160k_ade20k-640x640.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_s_in22k_to_in1k_384_acc86.44.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.UniRepLKNet',
        arch='small',
        drop_path_rate=0.3,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150),
    test_cfg=dict(_delete_=True, mode='whole'))
test_scale = (2560, 640)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='vitdense.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
