# Setting 2 on Abd-MRI, lower abdomen: training never sees a slice showing a kidney (the test classes),
# evaluation on the kidneys (SSL-ALPNet's split of setting 2 into lower / upper abdomen).
_base_ = ['./catnet_r101_abd_mri_setting1.py']

test_labels = [2, 3]
train_dataloader = dict(dataset=dict(setting=2, test_labels=test_labels))
val_dataloader = dict(dataset=dict(test_labels=test_labels))
test_dataloader = val_dataloader
