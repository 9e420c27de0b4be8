# A Mask R-CNN with a randomly initialised InceptionNeXt-atto on the embedded toy COCO dataset: the
# toy schedule and data of ../swin/mask_rcnn_swin_t_toy.py with this backbone (the paper has no
# detection setting). Used by the slow training test in tests/test_inceptionnext.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.InceptionNeXt', arch='atto', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[40, 80, 160, 320]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the slow test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
