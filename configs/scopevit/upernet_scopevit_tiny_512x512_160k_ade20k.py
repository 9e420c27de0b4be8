# UperNet with ScopeViT-tiny on ADE20K, 512x512 crops, 160k iterations: the setting of the official
# segmentation/configs/upernet/scopevit/upernet_scopevit_tiny_512x512_160k_ade20k.py (xuesongnie/ScopeViT):
# drop path 0.1, AdamW lr 1e-4, weight decay 0.01 (decay_mult 0 on 'layer_scale' / 'scale' /
# 'norm': only norms match), poly decay (power 1) after a 1500-iteration linear warm-up, 8 GPUs x 2 images.
# No ImageNet checkpoint is published (the official configs leave `checkpoint=''`): point
# the backbone's init_cfg to a ScopeViT classification file (loaded as it is, head dropped).
_base_ = './upernet_scopevit_xtiny_512x512_160k_ade20k.py'

model = dict(
    backbone=dict(arch='tiny', drop_path_rate=0.1),
    decode_head=dict(in_channels=[32, 64, 128, 256]),
    auxiliary_head=dict(in_channels=128))
