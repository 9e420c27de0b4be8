# InceptionNeXt-T ImageNet-1k classification (mmpretrain). The official recipe
# (scripts/inceptionnext/train_inceptionnext_tiny.sh of sail-sg/inceptionnext, timm's trainer):
# AdamW lr 4e-3 at batch 4096, 20 warm-up epochs, drop path 0.1 (0.3 for S, 0.4 for B), timm's
# defaults otherwise; it is mmpretrain's PoolFormer recipe (same authors: AdamW 4e-3 at 4096, 300
# epochs, cosine) with the warm-up lengthened to 20 epochs.
# Not the official classifier: that one pools the last stage into an MLP head (Linear 3x -> GELU ->
# LayerNorm -> Linear; 4.08M parameters for T); here the raw last stage is pooled into a linear head.
_base_ = 'mmpretrain::poolformer/poolformer-s12_32xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.InceptionNeXt', arch='tiny', drop_path_rate=0.1, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20)
]
optim_wrapper = dict(clip_grad=None)  # timm's trainer, as the official script runs it, does not clip
