# A Mask R-CNN with a randomly initialised MobileViT-XXS on the embedded toy COCO dataset: the toy
# schedule and data of ../swin/mask_rcnn_swin_t_toy.py. Used by the slow training test in
# tests/test_mobilevit.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.MobileViT', arch='xxs', init_cfg=None),
    neck=dict(in_channels=[24, 48, 64, 80]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the slow test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
