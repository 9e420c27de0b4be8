# RetinaNet with DAT++-T on COCO, 1x schedule: the setting of the official
# configs/dat/rtn_tiny_1x_4n_dp00_lr2.py (LeapLabTHU/DAT-Detection): DETR-style multi-scale +
# random-crop augmentation, AdamW lr 2e-4 / wd 0.05, fp16, no stochastic depth; strides 8-32 feed
# the FPN (the official config reads stages 1-3 with start_level=1). Reference: 4 nodes x 8 GPUs x 2.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', './_base_/datpp_coco_1x.py']
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/dat_pp_tiny_in1k_224.pth'  # official DAT-T++ ImageNet-1k weights (see README)
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DATPlusPlus',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.0,
        out_indices=(1, 2, 3),
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512], start_level=0, add_extra_convs='on_input', num_outs=5))

# augmentation strategy of DETR / Sparse R-CNN
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.ms_crop_choice}},
    dict(type='PackDetInputs')
]
train_dataloader = dict(batch_size=2, num_workers=2, dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg={{_base_.datpp_paramwise_cfg}})
auto_scale_lr = dict(enable=False, base_batch_size=64)
