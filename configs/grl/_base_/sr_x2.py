# Classical SR x2 data (official GRL sr experiment: DF2K with the bicubic LR folders, LR patches of
# 256 px, batch 8 in total, AdamW lr 1e-4, 225k iterations halved at 100k/150k/175k/200k).
# Layout: see docs/restoration.md.
_base_ = ['./schedule_225k.py']
scale = 2
lq_patch = 256
train_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='PairedRandomCrop', gt_patch_size=lq_patch * scale, scale=scale),
    dict(type='PairedFlipRotate'),
    dict(type='PackRestorationInputs'),
]
test_pipeline = [
    dict(type='LoadRestorationImages'),
    dict(type='ModCrop', scale=scale),
    dict(type='PackRestorationInputs'),
]
train_dataloader = dict(
    batch_size=1,  # per GPU; 8 GPUs as in the official runs
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='PairedImageFolderDataset', data_root='data/DF2K',
                 data_prefix=dict(gt='HR', lq=f'LR_bicubic/X{scale}'), lq_filename_tmpl=f'{{}}x{scale}',
                 pipeline=train_pipeline))


def _benchmark(name):
    return dict(type='PairedImageFolderDataset', data_root=f'data/benchmark/{name}',
                data_prefix=dict(gt='HR', lq=f'LR_bicubic/X{scale}'), lq_filename_tmpl=f'{{}}x{scale}',
                pipeline=test_pipeline)


# Set5 by default; the other benchmarks (Set14, B100, Urban100, Manga109) with e.g.
# --cfg-options test_dataloader.dataset.data_root=data/benchmark/Urban100 (docs/restoration.md)
val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=False, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False), dataset=_benchmark('Set5'))
test_dataloader = val_dataloader
# the published SR tables: Y channel, `scale` border pixels cropped
val_evaluator = [dict(type='PSNR', crop_border=scale, convert_to='y'),
                 dict(type='SSIM', crop_border=scale, convert_to='y')]
test_evaluator = val_evaluator
