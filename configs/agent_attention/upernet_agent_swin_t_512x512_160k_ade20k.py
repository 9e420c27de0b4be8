# UperNet with Agent-Swin-T on ADE20K, 512x512 crops, 160k iterations: the setting of the official
# downstream/segmentation/configs/agent_swin/upernet_agent_swin_t_9-12-14-7.py (LeapLabTHU/Agent-Attention):
# Swin's UperNet schedule (AdamW 6e-5, weight decay 0.01, 1500-iteration warm-up, poly decay,
# 2 images per GPU) with pooled agent grids 9-12-14-7, drop path 0.3 and no weight decay on norms
# and position biases. The official ImageNet-1k checkpoint loads as it is.
_base_ = '../swin/upernet_swin_t_512x512_160k_ade20k.py'

pretrained = 'https://cloud.tsinghua.edu.cn/f/a2ddc1190c224f768a41/?dl=1'  # agent_swin_t ImageNet-1k
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.AgentSwinTransformer',
        arch='tiny',
        agent_shapes=(9, 12, 14, 7),
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))

_no_decay = dict(decay_mult=0.)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'absolute_pos_embed': _no_decay, 'relative_position_bias_table': _no_decay, 'norm': _no_decay,
    'an_bias': _no_decay, 'na_bias': _no_decay, 'ah_bias': _no_decay, 'aw_bias': _no_decay,
    'ha_bias': _no_decay, 'wa_bias': _no_decay}))
