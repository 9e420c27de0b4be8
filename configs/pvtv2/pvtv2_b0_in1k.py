# PVTv2-b0 ImageNet-1k classification (mmpretrain): the official classifier is exactly this
# backbone (every stage closed by its norm) + global average pooling + linear head. Recipe of the
# official classification/configs/pvt_v2/pvt_v2_b0.py (DeiT-style: AdamW 5e-4 x batch/512, weight
# decay 0.05, 300 epochs, drop path 0.1), taken from mmpretrain's Twins config, which uses it too.
_base_ = 'mmpretrain::twins/twins-pcpvt-small_8xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.PVTv2', arch='b0', drop_path_rate=0.1, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=256))
