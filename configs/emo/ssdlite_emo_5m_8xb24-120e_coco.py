# SSDLite with EMO-5M on COCO, 320x320: the setting of the official
# down-stream-tasks/mmdetection/configs/ssd_emo/ssdlite_emo_5M_pretrain_coco.py (zhangzjn/EMO,
# mmdet 2.x): mmdet's SSDLite (MobileNetV2) neck/head/anchors/pipeline on stages 3 and 4 (strides
# 16, 32), attention windows of 10, drop path 0.05, BatchNorms of the backbone in eval mode,
# 120 epochs over the training set repeated 5 times, AdamW lr 1.2e-3 with weight decay 0.05 (none on
# norms), 500 linear warm-up iterations then cosine to 0, 8 GPUs x 24 images, with our backbone and
# the official ImageNet-1k weights (converted on load). The official pipeline also pads to a
# multiple of 320, a no-op after its fixed 320x320 resize.
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/zhangzjn/EMO/raw/main/resources/EMO_5M/net.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.EMO',
        arch='5m',
        window_size=10,
        drop_path_rate=0.05,
        out_indices=(2, 3),
        frozen_stages=-1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=(160, 288), out_channels=(160, 288, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(160, 288, 512, 256, 256, 128)))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0012, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.0)}))
