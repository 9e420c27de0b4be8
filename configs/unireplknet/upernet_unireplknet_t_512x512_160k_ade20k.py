# UperNet with UniRepLKNet-T on ADE20K, 512x512 crops, 160k iterations: the official
# segmentation/configs/ade20k/upernet_unireplknet_t_512_160k_ade20k.py (AILab-CVC/UniRepLKNet @
# b5677d8, mmseg 0.27) in mmseg 3.x/1.x form. The UperNet heads (SyncBN), data pipeline and 160k
# iterations are those of mmseg's ConvNeXt-T UperNet config, inherited here; set below as the
# official config has it: drop path 0.2, SyncBN in the backbone, AdamW 1e-4 (weight decay 0.05, none
# on 1-D parameters), no layer-wise lr decay for T (decay_rate 1; S and larger use 0.9 / 0.85),
# linear warm-up over 1500 iterations then poly decay, fp32 (no AMP), 8 GPUs x 2 images, and
# single-scale whole-image testing of the 2048x512 resize rounded to a multiple of 32.
# Official result: 48.6 mIoU single-scale, 49.1 multi-scale (official README). Not trained here.
_base_ = 'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_t_in1k_224_acc83.21.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.UniRepLKNet',
        arch='tiny',
        drop_path_rate=0.2,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[80, 160, 320, 640], num_classes=150),
    auxiliary_head=dict(in_channels=320, num_classes=150),
    test_cfg=dict(_delete_=True, mode='whole'))
test_scale = (2048, 512)
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
    paramwise_cfg=dict(layer_decay_rate=1.0, flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
