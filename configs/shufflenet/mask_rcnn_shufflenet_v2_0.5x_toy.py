# The toy schedule and data of ../swin/mask_rcnn_swin_t_toy.py with a randomly initialised
# ShuffleNet v2 0.5x (stem map, three stages, conv_last). Used by the slow training test in
# tests/test_shufflenet.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.ShuffleNetV2', arch='0.5x', init_cfg=None),
    neck=dict(in_channels=[24, 48, 96, 1024]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the slow test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
