# CAT-Net on the synthetic toy volumes (CPU, minutes): write them first with
#   python tools/dataset/make_synthetic_volumes.py --out data/toy_fewshot
# A slim ResNet-18 (16 base channels, output stride 4 through strides instead of dilation: dilated
# convolutions are slow on CPU), 64x64 slices, 64-channel features, 4 refinement steps, trained on
# ground truth; evaluated on the held-out fold-0 volumes (support volume 1, the others as queries).
_base_ = ['./_base_/catnet_runtime.py']

data_root = 'data/toy_fewshot/'
label_names = {1: 'liver', 2: 'kidney', 3: 'spleen'}
img_size = (64, 64)

model = dict(
    backbone=dict(depth=18, stem_channels=16, base_channels=16, strides=(1, 1, 1, 1), dilations=(1, 1, 1, 1),
                  init_cfg=None),
    feat_channels=64, num_heads=4)

train_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='EpisodicVolumeDataset', data_root=data_root, fold=0, label_source='gt', test_labels=[],
                 n_shot=1, num_episodes=1000, img_size=img_size, min_size=20, label_names=label_names))
val_dataloader = dict(
    batch_size=16, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='FewShotEvalDataset', data_root=data_root, fold=0, supp_idx=0, test_labels=[1, 2, 3],
                 n_part=3, img_size=img_size, label_names=label_names))
test_dataloader = val_dataloader

train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=300)
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4), clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=300, eta_min=1e-5)
]
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=300, max_keep_ckpts=1))
env_cfg = dict(mp_cfg=dict(mp_start_method='fork', opencv_num_threads=1))
randomness = dict(seed=0)
