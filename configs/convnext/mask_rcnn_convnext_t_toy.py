# ConvNeXt-T Mask R-CNN on the embedded toy COCO dataset (CPU-sized, from scratch): the Swin-T toy
# setting with our ConvNeXt-T backbone and 2 images per batch. Used by the CI training test in
# tests/test_convnext.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ConvNeXt',
        arch='tiny',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(in_channels=[96, 192, 384, 768]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the CI test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
train_dataloader = dict(batch_size=2)
