# The official GRL schedule for SR and denoising: AdamW lr 1e-4 (wd 1e-4), 225k iterations, lr halved at
# 100k / 150k / 175k / 200k, validation every 5k.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=225000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[100000, 150000, 175000, 200000],
                        gamma=0.5)]
