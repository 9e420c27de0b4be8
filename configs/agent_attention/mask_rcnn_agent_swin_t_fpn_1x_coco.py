# Mask R-CNN with Agent-Swin-T on COCO, 1x schedule: the setting of the official
# downstream/detection/configs/agent_swin/agent_swin_t_mrcnn_1x_9-12-14-7.py (LeapLabTHU/Agent-Attention):
# pooled agent grids 9-12-14-7, drop path 0.1, AdamW 1e-4, weight decay 0.05 (none on norms and any
# position bias), steps at 8 and 11, and the multi-scale + crop training augmentation of Swin's 3x
# setting (the official 1x config uses it too). The official ImageNet-1k checkpoint loads as it is.
_base_ = '../swin/mask_rcnn_swin_t.py'

pretrained = 'https://cloud.tsinghua.edu.cn/f/a2ddc1190c224f768a41/?dl=1'  # agent_swin_t ImageNet-1k
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.AgentSwinTransformer',
        arch='tiny',
        agent_shapes=(9, 12, 14, 7),
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))

_scales = [(1333, s) for s in range(480, 801, 32)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomChoice', transforms=[
        [dict(type='RandomChoiceResize', scales=_scales, keep_ratio=True)],
        [dict(type='RandomChoiceResize', scales=[(1333, 400), (1333, 500), (1333, 600)], keep_ratio=True),
         dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600), allow_negative_crop=True),
         dict(type='RandomChoiceResize', scales=_scales, keep_ratio=True)],
    ]),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

_no_decay = dict(decay_mult=0.)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'absolute_pos_embed': _no_decay, 'relative_position_bias_table': _no_decay, 'norm': _no_decay,
    'an_bias': _no_decay, 'na_bias': _no_decay, 'ah_bias': _no_decay, 'aw_bias': _no_decay,
    'ha_bias': _no_decay, 'wa_bias': _no_decay}))
