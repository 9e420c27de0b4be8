# RepNeXt-M3 ImageNet-1k classification (mmpretrain). The official classifier is this backbone's last
# stage, global average pooling and two BatchNorm1d+Linear heads (head, head_dist, averaged at test
# time): mmpretrain's LeViTClsHead. The official recipe (main.py of suous/RepNeXt, the DeiT/RepViT
# trainer): 8 GPUs x 256 images, 300 epochs, AdamW lr 1e-3 x 2048 / 512 = 4e-3, weight decay 0.025,
# cosine to 1e-5 after 5 warm-up epochs, RandAugment, label smoothing 0.1, random erasing 0.25,
# Mixup 0.8 / CutMix 1.0; it is mmpretrain's LeViT recipe with these rates.
# Where we differ: the official training distils from a RegNetY-16GF teacher (hard distillation)
# and clips gradients adaptively (timm AGC, 0.02); mmpretrain has neither, so this config trains
# without a teacher (distillation=False: one head, the official "without distill" setting) and
# without clipping.
_base_ = 'mmpretrain::levit/levit-128_8xb256_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.RepNeXt', arch='m3', out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512, distillation=False))
optim_wrapper = dict(optimizer=dict(lr=0.004, weight_decay=0.025))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 0.004, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
train_cfg = dict(by_epoch=True, max_epochs=300)
