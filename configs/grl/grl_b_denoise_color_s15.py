# GRL-B colour Gaussian denoising, sigma 15 (0-255 scale). Window 16, 64x128 stripes, anchor down 4.
_base_ = ['./_base_/default_runtime.py', './_base_/denoise_color.py']

sigma = 15
train_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='PairedRandomCrop', gt_patch_size=256, scale=1),
    dict(type='PairedFlipRotate'),
    dict(type='GaussianNoiseDegradation', sigma=sigma),
    dict(type='PackRestorationInputs'),
]
test_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='GaussianNoiseDegradation', sigma=sigma, seed=0),
    dict(type='PackRestorationInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    type='Restorer',
    generator=dict(type='GRL', arch='B', upscale=1, window_size=16, stripe_size=(64, 128),
                   stripe_groups=(None, None), anchor_window_down_factor=4),
    pixel_loss='l1',
    test_cfg=dict(tile=None, tile_overlap=32, self_ensemble=False))
