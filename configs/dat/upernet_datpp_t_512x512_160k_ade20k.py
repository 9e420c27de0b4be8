# UperNet with DAT++-T on ADE20K, 512x512 crops, 160k iterations: the setting of the official
# configs/dat/upn_tiny_160k_dp03_lr6.py (LeapLabTHU/DAT-Segmentation): AdamW lr 6e-5 / wd 0.01 (no
# decay on norms and position tables), poly schedule with 1500 linear warm-up iterations, fp16,
# drop path 0.3, 8 GPUs x 2 images.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/dat_pp_tiny_in1k_224.pth'  # official DAT-T++ ImageNet-1k weights (see README)
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DATPlusPlus',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[64, 128, 256, 512], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'rpe_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
