# PoolFormer-S12 ImageNet-1k classification (mmpretrain): the official classifier is exactly this
# backbone with only the last stage's output GroupNorm (the official final 'norm', applied to the
# map) + global average pooling + linear head. Recipe of mmpretrain's
# poolformer-s12_32xb128_in1k.py (the official one: AdamW 4e-3 at batch 4096, 300 epochs, drop
# path 0.1), with our backbone.
_base_ = 'mmpretrain::poolformer/poolformer-s12_32xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.PoolFormer', arch='s12', drop_path_rate=0.1, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
