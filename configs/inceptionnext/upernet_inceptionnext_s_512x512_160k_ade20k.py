# UperNet with InceptionNeXt-S on ADE20K, 512x512 crops, 160k iterations: the recipe of
# upernet_inceptionnext_t_512x512_160k_ade20k.py (our Swin-based setting; no official segmentation
# config exists); only the backbone differs. Drop path 0.3 is our choice.
_base_ = './upernet_inceptionnext_t_512x512_160k_ade20k.py'

model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='https://github.com/sail-sg/inceptionnext/releases/download/model/inceptionnext_small.pth')))
