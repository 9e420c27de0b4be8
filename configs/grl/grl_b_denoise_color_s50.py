# GRL-B colour Gaussian denoising, sigma 50: the sigma-15 model with the noise level changed (mmengine
# replaces lists on inheritance, so the two pipelines are restated).
_base_ = './grl_b_denoise_color_s15.py'

sigma = 50
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
