# SMT-S ImageNet-1k classification (mmpretrain). The official recipe (AFeng-x/SMT config.py and
# configs/smt/smt_small_224.yaml, Swin code base): AdamW, lr 1e-3 per 512 images (2e-3 for 1024),
# weight decay 0.05, 300 epochs of cosine decay to 1e-6 (per 512) after 5 warm-up epochs from
# 1e-7, gradient clipping 5.0, Mixup 0.2 / CutMix 1.0, label smoothing 0.1, drop path 0.2.
_base_ = 'mmpretrain::swin_transformer/swin-small_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.SMT',
        arch='small',
        qkv_bias=True,
        drop_path_rate=0.2,
        out_indices=(3,)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.2), dict(type='CutMix', alpha=1.0)]))

optim_wrapper = dict(optimizer=dict(lr=1e-3 * 1024 / 512), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=2e-6, by_epoch=True, begin=5)
]
