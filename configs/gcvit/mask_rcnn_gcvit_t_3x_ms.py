# Mask R-CNN with GC ViT-T on COCO, 3x schedule with multi-scale + crop augmentation: the setting of
# the official NVlabs/GCVit detection/configs/gcvit/mask_rcnn_gcvit_tiny_3x_coco.py. Its
# augmentation (DETR-style resize / crop-resize choice), 36 epochs and steps at 27 and 33 are those
# of mmdet's ConvNeXt 3x config, inherited here; backbone, optimizer and warm-up are the official
# GC ViT ones: windows of 24 in every stage (ImageNet 7/14 bias tables resized on load), drop path
# 0.2, AdamW 1e-4 with weight decay 0.05 (none on norms), 2500 linear warm-up iterations, fp16.
_base_ = 'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/nvidia/GCViT/resolve/main/gcvit_1k_tiny.pth.tar'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.GCViT',
        arch='tiny',
        window_size=24,
        pretrain_img_size=224,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=2500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1)
]
# The official config also lists an 'rpb' key with decay_mult 0, which names no parameter of the
# model (the tables are 'relative_position_bias_table'), so it is left out: tables are decayed there.
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
# The reference numbers were trained on 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
