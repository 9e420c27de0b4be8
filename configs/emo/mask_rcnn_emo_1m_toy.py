# A Mask R-CNN with a randomly initialised EMO-1M on the embedded toy COCO dataset: the toy schedule
# and data of ../swin/mask_rcnn_swin_t_toy.py. (The official dense settings are RetinaNet, SSDLite,
# DeepLabv3 and PSPNet; Mask R-CNN is only the shared toy detector.) Used by the slow training test
# in tests/test_emo.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.EMO', arch='1m', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[32, 48, 80, 168]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the slow test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
