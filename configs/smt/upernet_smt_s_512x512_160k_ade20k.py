# UperNet with SMT-S on ADE20K, 512x512 crops, 160k iterations: the setting of the official
# segmentation/configs (AFeng-x/SMT: upernet_smt_s.py for the model, upernet_smt_512x512_160k_ade20k.py
# for the schedule): drop path 0.2 applied as element-wise dropout (the official dense code's
# nn.Dropout), AdamW 6e-5 / wd 0.01 (no parameter-wise rules), poly schedule after a
# 1500-iteration linear warm-up, 8 GPUs x 2 images.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/AFeng-x/SMT/releases/download/v1.0.0/smt_small.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.SMT',
        arch='small',
        qkv_bias=True,
        drop_path_rate=0.2,
        drop_path_as_dropout=True,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[64, 128, 256, 512], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
