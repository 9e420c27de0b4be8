# DAT-T (CVPR'22) ImageNet-1k classification (mmpretrain): backbone with its last-stage norm (the
# official cls_norm), global average pooling and a linear head. Recipe: mmpretrain's Swin-T
# 300-epoch AdamW recipe with the official drop path 0.2 (LeapLabTHU/DAT @ 566a593
# configs/dat_tiny.yaml).
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DAT',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.2,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'rpe_table': dict(decay_mult=0.)}))
