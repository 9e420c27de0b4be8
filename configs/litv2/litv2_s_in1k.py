# LITv2-S ImageNet-1k classification (mmpretrain): the official recipe (classification/configs/
# litv2-small.yaml on the Swin training code) is the Swin one of mmpretrain's swin-tiny_16xb64_in1k.py
# (AdamW 1e-3 for 1024 images, weight decay 0.05, 300 epochs, 20 warm-up, cosine, clip 5) plus a
# 0.01 learning-rate factor on the weights of the DTM offset convs (OFFSET_LR_MULTI).
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.LITv2',
        arch='small',
        alpha=0.9,
        local_ws=(0, 0, 2, 1),
        drop_path_rate=0.2,  # M: 0.3, B: 0.5
        out_indices=(3,),
        out_norm=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'conv_offset.weight': dict(lr_mult=0.01)}))
