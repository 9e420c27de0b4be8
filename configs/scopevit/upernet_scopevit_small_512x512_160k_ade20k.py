# UperNet with ScopeViT-small on ADE20K, 512x512 crops, 160k iterations: the setting of the official
# segmentation/configs/upernet/scopevit/upernet_scopevit_small_512x512_160k_ade20k.py (xuesongnie/ScopeViT):
# drop path 0.1, AdamW lr 1e-4, weight decay 0.01 (decay_mult 0 on 'layer_scale' / 'scale' /
# 'norm': only norms match), poly decay (power 1) after a 1500-iteration linear warm-up, 8 GPUs x 2 images.
# The official small config gives the auxiliary head in_channels=320; stage 2 of ScopeViT-S has
# 256 channels, which is used here.
# No ImageNet checkpoint is published (the official configs leave `checkpoint=''`): point
# the backbone's init_cfg to a ScopeViT classification file (loaded as it is, head dropped).
_base_ = './upernet_scopevit_xtiny_512x512_160k_ade20k.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
