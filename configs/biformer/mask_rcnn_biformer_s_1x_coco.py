# Mask R-CNN with BiFormer-S on COCO, 1x schedule: the setting of the official
# object_detection/configs/coco/maskrcnn.1x.biformer_small.py (rayleizhu/BiFormer): 16 routing
# regions per side with padding of every map, output LayerNorms, frozen-statistics BatchNorm in the
# stem (norm_eval, the official default), drop path 0.2, AdamW 1e-4 / wd 0.05 without decay on
# norms, steps at epochs 8 and 11, mixed precision (fp16 loss scale 512), 8 GPUs x 2 images.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

# Official ImageNet-1k release (biformer_small_in1k); converted on load. The link serves a file
# named "content": download it once and pass the local path if several BiFormer models are used.
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
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale=512.,
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }),
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05))
# The reference numbers were trained on 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
