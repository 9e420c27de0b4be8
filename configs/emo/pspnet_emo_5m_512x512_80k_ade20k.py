# PSPNet with EMO-5M on ADE20K, 512x512 crops, 80k iterations: the official
# down-stream-tasks/mmsegmentation/configs/pspnet_emo/pspnet_emo_5M_512x512_80k_ade20k.py (zhangzjn/EMO,
# mmseg 0.x) has the recipe of deeplabv3_emo_5m_512x512_80k_ade20k.py (windows of 16, FCN auxiliary
# head on stage 3, AdamW 1.2e-4, poly, 8 GPUs x 4 images, SyncBN) with mmseg's pyramid pooling head
# (scales 1/2/3/6, 256 channels) on stage 4 instead of the ASPP head.
_base_ = './deeplabv3_emo_5m_512x512_80k_ade20k.py'

model = dict(
    decode_head=dict(
        _delete_=True,
        type='PSPHead',
        in_channels=288,
        in_index=3,
        channels=256,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
