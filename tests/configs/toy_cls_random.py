# toy_cls.py with every kind of randomness a resume must reproduce: shuffled data over several
# epochs (DefaultSampler), random augmentation in the pipeline (numpy / python RNG) and stochastic
# depth in the model (torch RNG). Used by tests/test_resume.py.
_base_ = './toy_cls.py'

model = dict(backbone=dict(drop_path_rate=0.3))
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=24, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=pipeline))
train_cfg = dict(max_iters=12)
