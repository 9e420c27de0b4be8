# TransNeXt-Tiny ImageNet-1k classification (mmpretrain): the backbone with global average pooling
# of the normalised last stage and a linear head, as the official classification model. Recipe:
# mmpretrain's Swin-T 300-epoch AdamW recipe with the official drop path 0.25 and gradient
# clipping 1.0 (classification/configs/transnext_tiny.py); the position bias is generated for 224 px.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.TransNeXt',
        arch='tiny',
        img_size=224,
        pretrain_size=224,
        drop_path_rate=0.25,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=576))
optim_wrapper = dict(
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(custom_keys={
        'query_embedding': dict(decay_mult=0.),
        'relative_pos_bias_local': dict(decay_mult=0.),
        'cpb': dict(decay_mult=0.),
        'temperature': dict(decay_mult=0.)
    }))
