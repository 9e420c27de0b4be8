# Colour Gaussian denoising data (official config/experiment/dn/grl/grl_p256.yaml: 256 px patches,
# batch 8 in total, AdamW lr 1e-4, 225k iterations halved at 100k/150k/175k/200k). Training GT:
# DIV2K + Flickr2K + BSD400 + WED in one folder; noise is added on the fly. Test: CBSD68 (default),
# Kodak24, McMaster, Urban100 with fixed noise (seed 0). Layout: docs/restoration.md.
_base_ = ['./schedule_225k.py']
sigma = 15
patch = 256
train_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='PairedRandomCrop', gt_patch_size=patch, scale=1),
    dict(type='PairedFlipRotate'),
    dict(type='GaussianNoiseDegradation', sigma=sigma),
    dict(type='PackRestorationInputs'),
]
test_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='GaussianNoiseDegradation', sigma=sigma, seed=0),
    dict(type='PackRestorationInputs'),
]
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='GTImageFolderDataset', data_root='data/denoise_train', data_prefix=dict(gt='HR'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='GTImageFolderDataset', data_root='data/denoise_test/CBSD68', data_prefix=dict(gt='HR'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR', crop_border=0), dict(type='SSIM', crop_border=0)]  # RGB, whole image
test_evaluator = val_evaluator
