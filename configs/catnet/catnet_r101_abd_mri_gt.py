# Abd-MRI trained on ground-truth labels instead of supervoxels: training classes are the labels that
# are not test classes (here the kidneys are learnt, liver and spleen are the unseen test classes).
_base_ = ['./catnet_r101_abd_mri_setting1.py']

test_labels = [1, 4]
train_dataloader = dict(dataset=dict(label_source='gt', test_labels=test_labels, supervoxel_dir=None))
val_dataloader = dict(dataset=dict(test_labels=test_labels))
test_dataloader = val_dataloader
