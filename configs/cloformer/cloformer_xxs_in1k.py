# CloFormer-XXS ImageNet-1k classification (mmpretrain). The official classifier is this backbone's
# last stage with its GroupNorm (the official final 'norm', our norm3) + global average pooling + a
# linear head. The official recipe (classification/config.py defaults of qhfan/CloFormer, the Swin
# trainer): AdamW lr 5e-4 per 512 images (linearly scaled), weight decay 0.05 (none on biases and
# 1-D parameters), 300 epochs with 20 warm-up epochs from 5e-7 per 512, cosine to 5e-6 per 512,
# gradient clipping 5.0, RandAugment m9-mstd0.5, random erasing 0.25, Mixup 0.8 / CutMix 1.0, label
# smoothing 0.1; drop path 0 for XXS (configs/cloformer_xxs.yaml; 0.06 for XS and S). That is
# mmpretrain's Swin schedule at batch 1024 (lr 1e-3, warm-up start factor 1e-3, eta_min 1e-5), used
# as it is. The official per-GPU batch is 256; the number of GPUs is not published.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.CloFormer', arch='xxs', drop_path_rate=0.0, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=256))
