# Semantic FPN with RepNeXt-M3 on ADE20K, 512x512 crops: the recipe of the official
# segmentation/configs/sem_fpn/fpn_repnext_m3_ade20k_40k.py (suous/RepNeXt). Despite the "40k" in
# that file's name it runs 80k iterations (max_iters=80000 // gpu_multiples, gpu_multiples=1) of
# 4 GPUs x 4 images, as its log segmentation/logs/repnext_m3_ade20k.json confirms: AdamW lr 1e-4,
# weight decay 0.05, poly decay (power 0.9) to 1e-6; the backbone keeps every BatchNorm in eval mode
# (the official backbone's train()). The official test resize (AlignResize, short side 512, sides
# rounded to multiples of 32) is mmseg's keep-ratio Resize here: our backbone takes any size.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/suous/RepNeXt/releases/download/v1.0/repnext_m3_distill_300e.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.RepNeXt',
        arch='m3',
        out_indices=(0, 1, 2, 3),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]),
    decode_head=dict(num_classes=150))

max_iters = 80000
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.05))
param_scheduler = [dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=8000)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=8000))
train_dataloader = dict(batch_size=4)
