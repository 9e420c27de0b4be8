# CMT-S ImageNet-1k classification at 224 (mmpretrain). The official recipe (the CMT-S command of
# cmt_pytorch/README.md with the defaults of its DeiT-style train.py: 8 GPUs x 128 images, AdamW
# lr 5e-4 x 1024 / 512 = 1e-3, weight decay 0.05, 300 epochs with 20 warm-up epochs, cosine, drop
# path 0.1, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, no gradient clipping) is mmpretrain's Swin
# schedule with that warm-up and the clipping removed. Deliberate difference: the official classifier
# puts a 1x1 conv to 1280 channels + BN + Swish before the pooling (`_fc`, `_bn`) and dropout 0.1
# before the linear head; here the last stage (with our output LayerNorm) is pooled straight into a
# linear head, so the classifier is not the released one (the backbone is).
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.CMT', arch='small', drop_path_rate=0.1, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
optim_wrapper = dict(clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20)
]
