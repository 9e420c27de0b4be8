# Mask R-CNN with DAT++-T on COCO, 1x schedule: the setting of the official
# configs/dat/mrcn_tiny_1x_4n_dp00_lr4.py (LeapLabTHU/DAT-Detection): DETR-style multi-scale +
# random-crop augmentation, AdamW lr 4e-4 / wd 0.05 (no decay on norms and position tables), fp16
# with dynamic loss scaling, no stochastic depth, activation checkpointing. The reference was
# trained on 4 nodes x 8 GPUs x 2 images (total batch 64, hence lr 4e-4).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', './_base_/datpp_coco_1x.py']
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

# The official ImageNet-1k weights (DAT-T++, dat_pp_tiny_in1k_224.pth) are shared on OneDrive /
# TsinghuaCloud (LeapLabTHU/DAT README); download and set the local path here.
pretrained = 'checkpoints/dat_pp_tiny_in1k_224.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DATPlusPlus',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))

# augmentation strategy of DETR / Sparse R-CNN
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.ms_crop_choice}},
    dict(type='PackDetInputs')
]
train_dataloader = dict(batch_size=2, num_workers=2, dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0004, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg={{_base_.datpp_paramwise_cfg}})
# 1x: linear warm-up over 500 iterations, steps at epochs 8 and 11 (the base schedule).
auto_scale_lr = dict(enable=False, base_batch_size=64)
