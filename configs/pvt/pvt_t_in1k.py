# PVT-Tiny ImageNet-1k classification (mmpretrain) with the DeiT-style recipe of the official
# classification/configs/pvt/pvt_tiny.py (AdamW 5e-4 x batch/512, weight decay 0.05, 300 epochs,
# drop path 0.1), taken from mmpretrain's Twins config, which uses the same recipe.
# Note: the official PVT v1 classifier reads a class token added in stage 4; this config pools the
# last stage globally instead (the dense backbone has no class token), so it is PVT-Tiny's trunk
# with a GAP head, not a bit-exact replica of the official classifier.
_base_ = 'mmpretrain::twins/twins-pcpvt-small_8xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.PVT',
        arch='tiny',
        drop_path_rate=0.1,
        final_norm=True,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
