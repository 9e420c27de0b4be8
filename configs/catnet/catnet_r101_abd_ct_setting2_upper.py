# Setting 2 on Abd-CT, upper abdomen: no training slice shows spleen or liver; evaluation on both.
_base_ = ['./catnet_r101_abd_ct_setting1.py']

test_labels = [1, 6]
train_dataloader = dict(dataset=dict(setting=2, test_labels=test_labels))
val_dataloader = dict(dataset=dict(test_labels=test_labels))
test_dataloader = val_dataloader
