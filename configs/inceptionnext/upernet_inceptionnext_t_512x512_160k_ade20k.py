# UperNet with InceptionNeXt-T on ADE20K, 512x512 crops, 160k iterations. The paper reports UperNet
# ADE20K results for T/S/B, but sail-sg/inceptionnext released no segmentation code or config, so
# this is our Swin-T UperNet setting (../swin/upernet_swin_t_512x512_160k_ade20k.py: mmseg's
# single-scale 160k recipe, AdamW 6e-5, weight decay 0.01, 1500-iteration warm-up, poly decay,
# 8 GPUs x 2 images) with InceptionNeXt-T; drop path 0.3 is our choice. The backbone's BatchNorms
# are SyncBN (2 images per GPU), the raw stage outputs feed the head (no extra output norms), and
# the official ImageNet-1k checkpoint loads through the converter (its MLP head dropped).
_base_ = '../swin/upernet_swin_t_512x512_160k_ade20k.py'

pretrained = 'https://github.com/sail-sg/inceptionnext/releases/download/model/inceptionnext_tiny.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.InceptionNeXt',
        arch='tiny',
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))
