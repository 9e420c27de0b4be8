# GRL-S colour JPEG artifact removal, quality 30: the quality-10 model with the JPEG quality changed
# (mmengine replaces lists on inheritance, so the two pipelines are restated).
_base_ = './grl_s_jpeg_color_q10.py'

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
