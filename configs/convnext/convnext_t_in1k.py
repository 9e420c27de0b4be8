# ConvNeXt-T ImageNet-1k classification (mmpretrain): the same backbone class in its classifier
# form (global average pooling before the final norm, as the official model), recipe of mmpretrain's
# convnext-tiny_32xb128_in1k.py (= the official: AdamW 4e-3 for 4096 images, 300 epochs, drop path
# 0.1, EMA, Mixup/CutMix, label smoothing).
_base_ = 'mmpretrain::convnext/convnext-tiny_32xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ConvNeXt',
        arch='tiny',
        drop_path_rate=0.1,
        out_indices=(3, ),
        gap_before_final_norm=True),
    neck=dict(type='GlobalAveragePooling'),  # the backbone already pooled: (B, C, 1, 1) -> (B, C)
    head=dict(in_channels=768))
