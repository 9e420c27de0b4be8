# DeepLabv3 with EMO-5M on ADE20K, 512x512 crops, 80k iterations: the setting of the official
# down-stream-tasks/mmsegmentation/configs/deeplabv3_emo/deeplabv3_emo_5M_pretrain_512x512_80k_ade20k.py
# (zhangzjn/EMO, mmseg 0.x): an ASPP head (dilations 1/12/24/36, 256 channels) on stage 4 and an FCN
# auxiliary head on stage 3, attention windows of 16, drop path 0.05, SyncBN everywhere (the
# official backbone converts its BatchNorms), AdamW lr 1.2e-4 with weight decay 0.01 (none on
# norms), poly decay (power 0.9) to 0, 8 GPUs x 4 images, with our backbone and the official
# ImageNet-1k weights (converted on load).
_base_ = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb4-80k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/zhangzjn/EMO/raw/main/resources/EMO_5M/net.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.EMO',
        arch='5m',
        window_size=16,
        drop_path_rate=0.05,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=288, in_index=3, channels=256, num_classes=150),
    auxiliary_head=dict(in_channels=160, in_index=2, num_classes=150))
sync_bn = 'torch'  # the backbone's BatchNorms become SyncBN in distributed runs (official sync_bn=True)

max_iters = 80000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.00012, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.0)}))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_dataloader = dict(batch_size=4)
