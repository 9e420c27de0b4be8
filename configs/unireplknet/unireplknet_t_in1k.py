# UniRepLKNet-T ImageNet-1k classification (mmpretrain). The official recipe (Image/README.md and
# main.py of AILab-CVC/UniRepLKNet: 4 GPUs x 128 images x 8 accumulation steps = 4096, AdamW 4e-3,
# weight decay 0.05, 300 epochs with 20 warm-up epochs, cosine, Mixup 0.8 / CutMix 1.0, label
# smoothing 0.1, drop path 0.2, no EMA, no gradient clipping) is the ConvNeXt-T recipe of mmpretrain's
# convnext-tiny_32xb128_in1k.py (32 x 128 = 4096 images), inherited here without its EMA hook.
# Not exactly the official classifier: that one normalises the pooled features (LayerNorm, 1,280
# parameters for T) before the linear head; here the pooled raw last stage goes into the head.
_base_ = 'mmpretrain::convnext/convnext-tiny_32xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.UniRepLKNet',
        arch='tiny',
        drop_path_rate=0.2,
        out_indices=(3, ),
        out_norm=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=640))
custom_hooks = []
