# Twins-SVT-S ImageNet-1k classification (mmpretrain's twins-svt-small_8xb128_in1k.py recipe, the
# official one), our backbone in the official classifier's form: no per-stage norms, the final norm
# on the last stage, zero-padded LSA windows without mask (224 px maps need no padding anyway),
# global average pooling, linear head.
_base_ = 'mmpretrain::twins/twins-svt-small_8xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.TwinsSVT',
        arch='small',
        drop_path_rate=0.1,  # official main.py default (its README trains SVT-B with 0.3)
        extra_norm=False,
        final_norm=True,
        lsa_pad_mask=False,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
