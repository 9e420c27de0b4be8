# UperNet with BiFormer-S on ADE20K, 512x512 crops, 160k iterations: the setting of the official
# semantic_segmentation/configs/ade20k/upernet.biformer_small.py (rayleizhu/BiFormer): 8 routing
# regions per side (512-px training crops), SyncBN in the stem / downsampling layers (the official
# backbone converts them), drop path 0.3, AdamW 6e-5 / wd 0.01 without decay on norms, poly
# schedule after a 1500-iteration linear warm-up, mixed precision (fp16 loss scale 512),
# 8 GPUs x 2 images.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://api.onedrive.com/v1.0/shares/s!AkBbczdRlZvChHDyM-x9KWRBZ832/root/content'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.BiFormer',
        arch='small',
        n_win=8,
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        out_norm='ln',
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[64, 128, 256, 512], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale=512.,
    optimizer=dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
