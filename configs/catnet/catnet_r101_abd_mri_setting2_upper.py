# Setting 2 on Abd-MRI, upper abdomen: training never sees a slice showing liver or spleen,
# evaluation on liver and spleen.
_base_ = ['./catnet_r101_abd_mri_setting1.py']

test_labels = [1, 4]
train_dataloader = dict(dataset=dict(setting=2, test_labels=test_labels))
val_dataloader = dict(dataset=dict(test_labels=test_labels))
test_dataloader = val_dataloader
