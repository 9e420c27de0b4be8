# The Mask R-CNN of mask_rcnn_agent_swin_t_fpn_1x_coco.py shrunk to the embedded toy COCO dataset:
# the toy schedule and data of ../swin/mask_rcnn_swin_t_toy.py with a randomly initialised
# Agent-Swin-T (dense agent grids). Used by the slow training test in tests/test_agent_attention.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.AgentSwinTransformer', arch='tiny', agent_shapes=(9, 12, 14, 7),
                  drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[96, 192, 384, 768]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the slow test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
