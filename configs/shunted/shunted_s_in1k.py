# Shunted-S ImageNet-1k classification (mmpretrain). The official classifier (SSA.py) is exactly this
# backbone (every stage closed by its norm) + global average pooling of the last stage + linear head.
# The official recipe (main.py defaults + configs/Shunted/shunted_S.py + dist_train.sh: DeiT-style,
# 8 GPUs x 128 images, AdamW 5e-4 x batch / 512 = 1e-3, weight decay 0.05, 300 epochs with 5 warm-up
# epochs, cosine to 1e-5, RandAugment, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, random erasing
# 0.25, drop path 0.2, no gradient clipping) is mmpretrain's Twins recipe with the clipping removed
# (Shunted-B: drop path 0.3, clip 1.0).
_base_ = 'mmpretrain::twins/twins-pcpvt-small_8xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.ShuntedTransformer', arch='small', drop_path_rate=0.2,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
optim_wrapper = dict(clip_grad=None)
