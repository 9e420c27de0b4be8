# FCViT-B12 ImageNet-1k classification (mmpretrain). The official classifier is exactly this
# backbone with only the last stage's GroupNorm (the official final 'norm', applied to the map) +
# global average pooling + linear head. The official recipe (train.py defaults of ma-xu/FCViT with
# the README's command: 8 GPUs x 128 images, AdamW lr 1e-3, weight decay 0.05, 300 epochs with 5
# warm-up epochs, cosine, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, no gradient clipping, drop
# path 0.1) is mmpretrain's Swin schedule with the warm-up shortened and the clipping removed.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.FCViT', arch='b12', drop_path_rate=0.1, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
optim_wrapper = dict(clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
