# SMT-T in the toy Mask R-CNN of configs/swin/mask_rcnn_swin_t_toy.py (embedded synthetic COCO,
# CPU-sized, from scratch): used by the CI training test in tests/test_smt.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.SMT',
        arch='tiny',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]),
    # After 10 iterations from scratch no box scores 0.05 (the default threshold) and COCO
    # evaluation of an empty result set gives no metrics; keep the top boxes whatever their score.
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
