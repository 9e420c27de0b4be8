# DilateFormer-T ImageNet-1k classification (mmpretrain). The official recipe (dist_train.sh and the
# main.py defaults of JIAOJIAYUASD/dilateformer, DeiT's trainer): 8 GPUs x 128 images, AdamW lr 1e-3,
# weight decay 0.05, 300 epochs with 10 warm-up epochs, cosine to 1e-5, drop path 0.1, RandAugment,
# random erasing 0.25, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, no gradient clipping: mmpretrain's
# Swin schedule (the same batch, lr, decay and augmentation) with the warm-up set to 10 epochs and
# the clipping removed. The classifier is the official one: the last stage's LayerNorm (norm3, the
# official `norm`), global average pooling, a linear head.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DilateFormer',
        arch='tiny',
        drop_path_rate=0.1,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=576))
optim_wrapper = dict(clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10)
]
