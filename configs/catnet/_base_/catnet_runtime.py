# CAT-Net runtime shared by the real-data configs: ResNet-101 (output stride 8, 256-channel projection,
# the protocol of SSL-ALPNet / ADNet / Q-Net), 4 CMAT refinement steps, SGD as the official scripts
# (lr 1e-3, momentum 0.9, weight decay 5e-4, lr x0.98 every 1000 iterations, batch 1 episode).
default_scope = 'vitdense'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    type='CATNet',
    backbone=dict(
        type='mmpretrain.ResNet', depth=101, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), out_indices=(3, ),
        # ImageNet weights (torchvision layout = mmpretrain's); the official code starts from
        # torchvision's COCO DeepLabv3-ResNet-101 backbone.
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    feat_channels=256,
    num_refine=4,
    num_heads=8,
    mlp_ratio=2.0,
    loss_dice_weight=1.0)

train_cfg = dict(type='IterBasedTrainLoop', max_iters=100000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4),
                     clip_grad=dict(max_norm=10.0))
param_scheduler = [dict(type='StepLR', step_size=1000, gamma=0.98, by_epoch=False)]

val_evaluator = dict(type='VolumeDice')
test_evaluator = val_evaluator

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=2021)
