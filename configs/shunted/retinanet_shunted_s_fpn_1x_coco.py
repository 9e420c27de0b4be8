# RetinaNet with Shunted-S on COCO, 1x schedule: the PVT v2 detection setting the Shunted authors
# follow (issue #17 of OliverRensu/Shunted-Transformer; whai362/PVT v2
# detection/configs/retinanet_pvt_v2_b*_fpn_1x_coco.py): mmdet's RetinaNet R50-FPN 1x with the FPN
# from stage 2 and extra convs on its input, AdamW lr 1e-4, weight decay 1e-4, 8 GPUs x 2 images,
# drop path 0.1 (PVT v2's value), with our backbone. Weights: see mask_rcnn_shunted_s_fpn_1x_coco.py.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/shunted_s.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ShuntedTransformer',
        arch='small',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512], start_level=1, add_extra_convs='on_input', num_outs=5))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
