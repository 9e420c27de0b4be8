# Mask R-CNN with Focal-T on COCO, 1x schedule. Published (official README): box AP 44.8, mask AP
# 41.0. The authors' detection code was never released; their README says it follows
# Swin-Transformer-Object-Detection, so this is our Swin-T 1x setting (../swin/mask_rcnn_swin_t.py:
# mmdet's single-scale 1x, AdamW 1e-4, weight decay 0.05, drop path 0.2, no decay on norms and
# position-bias tables -- the key also matches Focal's _to_neighbors/_to_windows tables) with Focal-T
# and the official ImageNet-1k checkpoint (converted on load).
_base_ = '../swin/mask_rcnn_swin_t.py'

pretrained = 'https://projects4jw.blob.core.windows.net/model/focal-transformer/imagenet1k/focal-tiny-is224-ws7.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.FocalTransformer',
        arch='tiny',
        pretrain_img_size=224,
        window_size=7,
        focal_levels=(2, 2, 2, 2),
        focal_windows=(7, 5, 3, 1),
        focal_pool='fc',
        expand_sizes=(3, 3, 3, 3),
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
