# RetinaNet with CMT-S on COCO, 1x schedule (the paper's COCO detection row; arXiv 2107.06263). No
# official dense code or config was released (huawei-noah/Efficient-AI-Backbones has classification
# only), so the recipe here is PVT's RetinaNet 1x (the setting the paper compares against): FPN from
# stride 8 with extra convs on the input, AdamW lr 1e-4 / weight decay 1e-4, 8 GPUs x 2 images,
# drop path 0.1 (the CMT-S ImageNet value). The official CMT-S ImageNet-1k weights (trained at 224,
# position tables sized for it and resized per input) are converted on load.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/ggjy/CMT.pytorch/releases/download/release-v1/cmt_small.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.CMT',
        arch='small',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512], start_level=1, add_extra_convs='on_input', num_outs=5))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
