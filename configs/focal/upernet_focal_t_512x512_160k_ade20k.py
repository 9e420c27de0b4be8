# UperNet with Focal-T on ADE20K, 512x512 crops, 160k iterations. Published (official README): mIoU
# 45.8 (single scale), 47.0 (multi-scale). No official segmentation code exists; the README says it
# follows Swin-Transformer-Semantic-Segmentation, so this is our Swin-T UperNet setting
# (../swin/upernet_swin_t_512x512_160k_ade20k.py: AdamW 6e-5, weight decay 0.01, 1500-iteration
# warm-up, poly decay, drop path 0.3, 8 GPUs x 2) with Focal-T and the official ImageNet-1k checkpoint.
_base_ = '../swin/upernet_swin_t_512x512_160k_ade20k.py'

pretrained = 'https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-tiny-is224-ws7.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.FocalTransformer',
        arch='tiny',
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
