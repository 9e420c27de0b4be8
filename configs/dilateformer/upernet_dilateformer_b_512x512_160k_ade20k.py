# UperNet with DilateFormer-B on ADE20K, 512x512 crops, 160k iterations. The paper reports ADE20K
# segmentation, but no segmentation code or config was released, so this is our Swin-T UperNet
# setting (../swin/upernet_swin_t_512x512_160k_ade20k.py: AdamW 6e-5, weight decay 0.01,
# 1500-iteration warm-up, poly decay, 8 GPUs x 2) with DilateFormer-B; drop path 0.4 is our choice.
# Official ImageNet-1k weights: Google Drive / Baidu Pan only (official README); download them and
# set `pretrained`.
_base_ = '../swin/upernet_swin_t_512x512_160k_ade20k.py'

pretrained = 'checkpoints/dilateformer_base.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DilateFormer',
        arch='base',
        drop_path_rate=0.4,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))
