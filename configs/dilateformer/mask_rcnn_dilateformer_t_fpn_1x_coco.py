# Mask R-CNN with DilateFormer-T on COCO, 1x schedule. The paper reports COCO detection, but the
# authors released no detection code or configs (JIAOJIAYUASD/dilateformer holds classification
# only), so this is our Swin-T 1x setting (../swin/mask_rcnn_swin_t.py: mmdet's single-scale 1x,
# AdamW 1e-4, weight decay 0.05, no decay on norms) with DilateFormer-T; drop path 0.1 is our choice.
# The official ImageNet-1k weights are on Google Drive / Baidu Pan only (official README), not
# downloadable by URL: fetch the file by hand and point `pretrained` at it (the official
# {'model': ...} layout is converted on load, the classifier dropped).
_base_ = '../swin/mask_rcnn_swin_t.py'

pretrained = 'checkpoints/dilateformer_tiny.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DilateFormer',
        arch='tiny',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[72, 144, 288, 576]))
