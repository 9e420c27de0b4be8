# ViT-Adapter-T Mask R-CNN on the embedded toy COCO dataset (CPU-sized, from scratch): the Swin-T
# toy setting with our ViT-Adapter-T (window attention as in the COCO configs, window 4 to match the
# 10x8-token grids of 160x128 images; BN instead of SyncBN for one CPU process). Used by the CI
# training test in tests/test_vit_adapter.py.
_base_ = '../swin/mask_rcnn_swin_t_toy.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ViTAdapter',
        arch='tiny',
        drop_path_rate=0.0,
        window_attn=[True, True, False] * 4,
        window_size=[4, 4, None] * 4,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None),
    neck=dict(in_channels=[192, 192, 192, 192]),
    # a few iterations from scratch score below mmdet's 0.05 threshold; keep the boxes so the
    # evaluation runs on real predictions
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
train_dataloader = dict(batch_size=2)
