# A tiny mmpretrain image classifier for the tools/ tests (tests/test_tools.py,
# tests/test_checkpoint_safety.py): ResNet-18 with 8 base channels on 32x32 images of an
# image-folder data set (mmpretrain CustomDataset: <data_root>/{train,val}/<class>/*.png) that the
# tests write into a tmp dir and pass with --cfg-options *.dataset.data_root=...
# env_cfg asks for nccl on purpose: on a GPU-less machine tools/train.py must fall back to gloo.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

data_root = 'data/toy_cls'
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=2, mean=[127.5, 127.5, 127.5],
                           std=[127.5, 127.5, 127.5], to_rgb=True),
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8, out_indices=(3, ),
                  norm_cfg=dict(type='BN', requires_grad=True)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=64, loss=dict(type='CrossEntropyLoss'),
              topk=(1, )))

pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
# lr 0.01 for iterations 1-2, 0.001 from iteration 3 on: the resume test reads it back from the log
param_scheduler = dict(type='MultiStepLR', by_epoch=False, milestones=[2], gamma=0.1)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=1000)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False, max_keep_ckpts=-1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))
visualizer = dict(type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
log_processor = dict(by_epoch=False, window_size=1)
log_level = 'INFO'
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, deterministic=False)
load_from = None
resume = False
