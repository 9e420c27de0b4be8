# iFormer-S ImageNet-1k classification (mmpretrain). The official classifier is exactly this
# backbone's last stage through its output LayerNorm (norm3, the official final 'norm') + global
# average pooling + a linear head: 19,866,344 parameters, as iformer_small. Recipe of the official
# checkpoint/iformer_small/args.yaml (timm's trainer): batch 1024, AdamW lr 1e-3, weight decay 0.05,
# 300 epochs with 5 warm-up epochs, cosine to 1e-6, drop path 0.2, label smoothing 0.1,
# RandAugment m9, Mixup 0.8 / CutMix 1.0, no gradient clipping (B/L: clip 1.0); it is mmpretrain's
# Swin schedule with the warm-up shortened and the clipping removed. As in the official run, the
# position embeddings are decayed (timm exempts only 1-d parameters).
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.InceptionTransformer',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(3, ),
        out_norm=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=384))
optim_wrapper = dict(clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5)
]
