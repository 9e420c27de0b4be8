# The Mask R-CNN of mask_rcnn_stvit_s_fpn_1x_coco.py shrunk to the embedded toy COCO dataset: the
# toy schedule and data of ../swin/mask_rcnn_swin_t_toy.py with a randomly initialised narrow
# STViT-R (embed 32, depths 2-2-6-2: one semantic group, the smallest valid third stage; the zoo's
# smallest arch, Swin-S, is too slow for a CPU test). Used by the slow test in tests/test_stvit.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(_delete_=True, type='vitdense.STViTR',
                  arch=dict(embed_dims=32, depths=(2, 2, 6, 2), num_heads=(1, 2, 4, 8)),
                  drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256]),
    # A 10-iteration from-scratch model scores its boxes below mmdet's 0.05 threshold; keeping them
    # lets the evaluation run on real predictions (the slow test checks it returns finite APs).
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
