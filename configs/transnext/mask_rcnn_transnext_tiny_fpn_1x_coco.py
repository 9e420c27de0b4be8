# Mask R-CNN with TransNeXt-Tiny on COCO, 1x schedule: the setting of the official
# detection/maskrcnn/configs/mask_rcnn_transnext_tiny_fpn_1x_coco.py (DaiShiResearch/TransNeXt):
# 1333x800 single-scale training, AdamW lr 1e-4 / wd 0.05 without decay on the position and
# temperature parameters, 8 GPUs x 2 images, drop path 0.4 (fixed in the official dense class),
# position bias generated for 800 px and interpolated (img_size=800, pretrain_size=224).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/DaiShiResearch/transnext-tiny-224-1k/resolve/main/transnext_tiny_224_1k.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.TransNeXt',
        arch='tiny',
        img_size=800,
        pretrain_size=224,
        is_extrapolation=False,
        drop_path_rate=0.4,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[72, 144, 288, 576]))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'query_embedding': dict(decay_mult=0.),
        'relative_pos_bias_local': dict(decay_mult=0.),
        'cpb': dict(decay_mult=0.),
        'temperature': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }))
# The reference numbers were trained on 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
