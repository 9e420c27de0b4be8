# GC ViT-T ImageNet-1k classification (mmpretrain): the backbone in its ImageNet form (windows
# 7-7-14-7 at 224 px, final norm on the last stage, then global average pooling). The official recipe
# (configs/gc_vit_tiny.yml: 310 epochs, AdamW, cosine, 20 warm-up epochs, weight decay 0.05, EMA,
# clip-grad 5, Mixup/CutMix, drop path 0.2) is close to mmpretrain's Swin one inherited here.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.GCViT',
        arch='tiny',
        window_size=(7, 7, 14, 7),
        drop_path_rate=0.2,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))
optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
