# Mask R-CNN with ScopeViT-xtiny on COCO, 1x schedule: the setting of the official
# detection/configs/scopevit/mask_rcnn_scopevit_xtiny_fpn_1x_coco.py (xuesongnie/ScopeViT): mmdet's single-scale
# 1x Mask R-CNN, drop path 0.05, AdamW lr 2e-4, weight decay 0.05 (decay_mult 0 on keys
# 'layer_scale' / 'scale' / 'norm': of our, the official, names only norms match), 8 GPUs x 2 images.
# No ImageNet checkpoint is published (the official configs leave `checkpoint=''`): point
# the backbone's init_cfg to a ScopeViT classification file (loaded as it is, head dropped).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ScopeViT',
        arch='xtiny',
        drop_path_rate=0.05,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),  # dict(type='Pretrained', checkpoint=PATH) once ImageNet weights exist
    neck=dict(in_channels=[32, 64, 128, 256]))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'layer_scale': dict(decay_mult=0.), 'scale': dict(decay_mult=0.),
                                                 'norm': dict(decay_mult=0.)}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
