# A Mask R-CNN with a randomly initialised RepVGG-A0 on the embedded toy COCO dataset: the toy
# schedule and data of ../swin/mask_rcnn_swin_t_toy.py. Used by the slow training test in
# tests/test_repvgg.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.RepVGG', arch='a0', init_cfg=None),
    neck=dict(in_channels=[48, 96, 192, 1280]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the slow test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
