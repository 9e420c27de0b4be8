# CAT-Net on Abd-MRI (CHAOS T2-SPIR, 20 volumes), setting 1, self-supervised on SLIC supervoxels
# (5000 per volume), evaluated 1-shot on liver / kidneys / spleen with the standard protocol
# (fold `fold`, support volume `supp_idx`, 3 chunks). Data: docs/fewshot_medical.md.
_base_ = ['./_base_/catnet_runtime.py']

data_root = 'data/CHAOST2/chaos_MR_T2_normalized/'
label_names = {1: 'liver', 2: 'right_kidney', 3: 'left_kidney', 4: 'spleen'}
test_labels = [1, 2, 3, 4]
fold = 0  # 0..4, one run per fold; the papers average the 5 folds
img_size = (256, 256)

train_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='EpisodicVolumeDataset', data_root=data_root, fold=fold, label_source='supervoxel',
                 supervoxel_dir='../supervoxels_5000', test_labels=test_labels, setting=1, n_shot=1,
                 num_episodes=1000, img_size=img_size, min_size=200, label_names=label_names))
val_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='FewShotEvalDataset', data_root=data_root, fold=fold, supp_idx=0,
                 test_labels=test_labels, n_part=3, img_size=img_size, label_names=label_names))
test_dataloader = val_dataloader
