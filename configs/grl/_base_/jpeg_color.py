# Colour JPEG compression artifact removal data (official config/experiment/jpeg/grl/grl_p288.yaml:
# 288 px patches, batch 8 in total, Charbonnier loss, AdamW lr 1e-4, 175k iterations halved at
# 50k/100k/125k/150k). Training GT: DIV2K + Flickr2K + BSD400 + WED in one folder, JPEG (OpenCV) on
# the fly. Test: LIVE1 (default), BSD500 test split. Layout: docs/restoration.md.
_base_ = ['./schedule_225k.py']
quality = 10
patch = 288
train_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='PairedRandomCrop', gt_patch_size=patch, scale=1),
    dict(type='PairedFlipRotate'),
    dict(type='JPEGDegradation', quality=quality),
    dict(type='PackRestorationInputs'),
]
test_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='JPEGDegradation', quality=quality),
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
    dataset=dict(type='GTImageFolderDataset', data_root='data/jpeg_test/LIVE1', data_prefix=dict(gt='HR'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='PSNR', crop_border=0), dict(type='SSIM', crop_border=0)]
test_evaluator = val_evaluator

train_cfg = dict(max_iters=175000)  # shorter than SR / denoising, halved earlier
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[50000, 100000, 125000, 150000],
                        gamma=0.5)]
