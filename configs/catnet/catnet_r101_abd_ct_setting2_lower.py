# Setting 2 on Abd-CT, lower abdomen: no training slice shows a kidney; evaluation on the kidneys.
_base_ = ['./catnet_r101_abd_ct_setting1.py']

test_labels = [2, 3]
train_dataloader = dict(dataset=dict(setting=2, test_labels=test_labels))
val_dataloader = dict(dataset=dict(test_labels=test_labels))
test_dataloader = val_dataloader
