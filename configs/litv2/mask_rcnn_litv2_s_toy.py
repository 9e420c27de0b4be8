# The Mask R-CNN of mask_rcnn_litv2_s_fpn_1x_coco.py on the embedded toy COCO dataset, trained from
# scratch on the CPU: the Swin-T toy setting with LITv2-S as the backbone. Used by the CI training test.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.LITv2',
        arch='small',
        alpha=0.9,
        local_ws=(0, 0, 2, 1),
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(in_channels=[96, 192, 384, 768]),
    # a few iterations from scratch score below mmdet's 0.05: keep all boxes so that AP is computed
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
