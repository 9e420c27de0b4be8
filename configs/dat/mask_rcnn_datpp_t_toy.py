# The Mask R-CNN of mask_rcnn_datpp_t_1x_coco.py with the smallest released variant, DAT++-T
# (24M parameters), on the embedded toy COCO dataset: CPU-sized images, random init, fp32, no
# checkpointing. Used by the CI training test.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.DATPlusPlus',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]),
    # Ten iterations from scratch can leave every box under mmdet's 0.05 score threshold, and an
    # empty result set gives no COCO metrics at all: keep the top boxes whatever their score.
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
