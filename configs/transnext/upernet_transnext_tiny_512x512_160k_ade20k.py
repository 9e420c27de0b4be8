# UperNet with TransNeXt-Tiny on ADE20K, 512x512 crops, 160k iterations: the setting of the official
# segmentation/upernet/configs/upernet_transnext_tiny_512x512_160k_ade20k_ss.py (DaiShiResearch/
# TransNeXt): AdamW lr 6e-5 / wd 0.05 without decay on the position and temperature parameters,
# poly schedule with 1500 linear warm-up iterations, 8 GPUs x 2 images, drop path 0.4, position
# bias generated for 512 px and interpolated, sliding-window test (512 crops, stride 341).
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/DaiShiResearch/transnext-tiny-224-1k/resolve/main/transnext_tiny_224_1k.pth'  # noqa
crop_size = (512, 512)
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.TransNeXt',
        arch='tiny',
        img_size=512,
        pretrain_size=224,
        is_extrapolation=False,
        drop_path_rate=0.4,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[72, 144, 288, 576], num_classes=150),
    auxiliary_head=dict(in_channels=288, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'query_embedding': dict(decay_mult=0.),
        'relative_pos_bias_local': dict(decay_mult=0.),
        'cpb': dict(decay_mult=0.),
        'temperature': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
