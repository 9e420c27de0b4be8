# CAT-Net on Card-MRI (MS-CMRSeg bSSFP, 35 volumes), self-supervised on SLIC supervoxels (1000 per
# volume), 30k iterations as the official CMR script, evaluated 1-shot on LV-BP, LV-MYO and RV.
# Setting 2 is not meaningful here: the three structures share almost every slice.
_base_ = ['./_base_/catnet_runtime.py']

data_root = 'data/CMR/cmr_MR_normalized/'
# MS-CMRSeg raw label values 200 (LV myocardium), 500 (LV blood pool), 600 (RV) -> 1, 2, 3
label_map = {200: 1, 500: 2, 600: 3}
label_names = {1: 'lv_myo', 2: 'lv_bp', 3: 'rv'}
test_labels = [1, 2, 3]
fold = 0
img_size = (256, 256)

train_cfg = dict(max_iters=30000, val_interval=10000)
train_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='EpisodicVolumeDataset', data_root=data_root, fold=fold, label_source='supervoxel',
                 supervoxel_dir='../supervoxels_1000', test_labels=test_labels, setting=1, n_shot=1,
                 num_episodes=1000, img_size=img_size, min_size=200, label_names=label_names,
                 label_map=label_map))
val_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='FewShotEvalDataset', data_root=data_root, fold=fold, supp_idx=0,
                 test_labels=test_labels, n_part=3, img_size=img_size, label_names=label_names,
                 label_map=label_map))
test_dataloader = val_dataloader
