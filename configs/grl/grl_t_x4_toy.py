# A small GRL x4 SR model trained from scratch on the toy SR folders that
# tools/dataset/make_toy_sr.py writes from scikit-image's photos (data/toy_sr): GT-only training
# photos with on-the-fly MATLAB-bicubic LR and 48 px GT patches; validation on the two held-out
# photos with their stored LR files (paired folders). Minutes on a CPU; used by the CI training test.
_base_ = ['./_base_/default_runtime.py']

scale = 4
data_root = 'data/toy_sr'
train_pipeline = [
    dict(type='LoadRestorationImages', cache=True),  # 7 photos, thousands of patches
    dict(type='PairedRandomCrop', gt_patch_size=48, scale=1),  # GT patch first, then degrade it
    dict(type='PairedFlipRotate'),
    dict(type='BicubicDegradation', scale=scale),
    dict(type='PackRestorationInputs'),
]
test_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='ModCrop', scale=scale),
    dict(type='PackRestorationInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='GTImageFolderDataset', data_root=data_root, data_prefix=dict(gt='train/gt'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PairedImageFolderDataset', data_root=data_root,
                 data_prefix=dict(gt='val/gt', lq=f'val/lq_x{scale}'), lq_filename_tmpl=f'{{}}x{scale}',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR', crop_border=scale, convert_to='y'),
                 dict(type='SSIM', crop_border=scale, convert_to='y')]
test_evaluator = val_evaluator

model = dict(
    type='Restorer',
    generator=dict(type='GRL', upscale=scale, upsampler='pixelshuffledirect', drop_path_rate=0.0,
                   # 12 px LQ patches: 6 px windows and 12 px stripes (3 px anchors) tile them without padding
                   arch=dict(embed_dim=32, depths=(2, 2), num_heads_window=(2, 2), num_heads_stripe=(2, 2),
                             window_size=6, stripe_size=(12, 12), stripe_groups=(None, None),
                             anchor_window_down_factor=4, mlp_ratio=2.0, local_connection=False)),
    pixel_loss='l1',
    test_cfg=dict(tile=None, tile_overlap=16, self_ensemble=False))

max_iters = 800
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=4e-3, betas=(0.9, 0.99)))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, T_max=max_iters, eta_min=1e-5)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1,
                    save_best=None))
randomness = dict(seed=0)
