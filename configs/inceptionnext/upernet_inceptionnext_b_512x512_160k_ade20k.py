# UperNet with InceptionNeXt-B on ADE20K, 512x512 crops, 160k iterations: the recipe of
# upernet_inceptionnext_t_512x512_160k_ade20k.py (our Swin-based setting; no official segmentation
# config exists) with the B backbone (128-256-512-1024 channels). Drop path 0.3 is our choice.
_base_ = './upernet_inceptionnext_t_512x512_160k_ade20k.py'

model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(checkpoint='https://github.com/sail-sg/inceptionnext/releases/download/model/inceptionnext_base.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
