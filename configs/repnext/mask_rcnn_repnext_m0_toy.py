# The Mask R-CNN of mask_rcnn_repnext_m3_fpn_1x_coco.py shrunk to the embedded toy COCO dataset:
# the toy schedule and data of ../swin/mask_rcnn_swin_t_toy.py with a randomly initialised
# RepNeXt-M0. Used by the slow training test in tests/test_repnext.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.RepNeXt', arch='m0', norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[40, 80, 160, 320]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the slow test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
