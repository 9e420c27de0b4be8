# Conv2Former-T ImageNet-1k classification (mmpretrain). The official recipe (train.sh / train.py of
# HVision-NKU/Conv2Former, timm's trainer): 8 GPUs x 128 images, AdamW lr 1e-3, weight decay 0.05
# (none on biases, norms and layer scales), 300 epochs with 5 warm-up epochs, cosine, Mixup 0.8 /
# CutMix 1.0, no gradient clipping; it is mmpretrain's Swin schedule with the warm-up shortened and
# the clipping removed. The drop path rate is a train.sh argument whose per-model value is not
# published; 0.1 is our choice.
# Not the official classifier: that one has a head (1x1 conv to 1280 -> GELU -> LayerNorm) before
# pooling, 0.74M more parameters for T; here the raw last stage is pooled into a linear head.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.Conv2Former',
        arch='tiny',
        drop_path_rate=0.1,
        out_indices=(3, ),
        out_norm=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=576))
optim_wrapper = dict(clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
