# UperNet with ScopeViT-xtiny on ADE20K, 512x512 crops, 160k iterations: the setting of the official
# segmentation/configs/upernet/scopevit/upernet_scopevit_xtiny_512x512_160k_ade20k.py (xuesongnie/ScopeViT):
# drop path 0.05, AdamW lr 1e-4, weight decay 0.01 (decay_mult 0 on 'layer_scale' / 'scale' /
# 'norm': only norms match), poly decay (power 1) after a 1500-iteration linear warm-up, 8 GPUs x 2 images.
# No ImageNet checkpoint is published (the official configs leave `checkpoint=''`): point
# the backbone's init_cfg to a ScopeViT classification file (loaded as it is, head dropped).
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ScopeViT',
        arch='xtiny',
        drop_path_rate=0.05,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),  # dict(type='Pretrained', checkpoint=PATH) once ImageNet weights exist
    decode_head=dict(in_channels=[32, 64, 128, 256], num_classes=150),
    auxiliary_head=dict(in_channels=128, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'layer_scale': dict(decay_mult=0.), 'scale': dict(decay_mult=0.),
                                                 'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
