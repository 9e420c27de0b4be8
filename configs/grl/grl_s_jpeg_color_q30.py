# GRL-S colour JPEG compression artifact removal, quality 30. Window 36, 72x144 stripes, anchor down 4.
_base_ = ['./_base_/default_runtime.py', './_base_/jpeg_color.py']

quality = 30
train_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='PairedRandomCrop', gt_patch_size=288, scale=1),
    dict(type='PairedFlipRotate'),
    dict(type='JPEGDegradation', quality=quality),
    dict(type='PackRestorationInputs'),
]
test_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='JPEGDegradation', quality=quality),
    dict(type='PackRestorationInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    type='Restorer',
    generator=dict(type='GRL', arch='S', upscale=1, window_size=36, stripe_size=(72, 144),
                   stripe_groups=(None, None), anchor_window_down_factor=4),
    pixel_loss='charbonnier',
    test_cfg=dict(tile=576, tile_overlap=72, self_ensemble=False))
