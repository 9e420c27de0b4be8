# RetinaNet with CloFormer-XXS on COCO, 1x schedule. The paper's detection code and configs were not
# released (qhfan/CloFormer has classification/ only), so this is our recipe choice, the one of the
# lightweight pyramid backbones the paper compares with (PVTv2's official
# retinanet_pvt_v2_b0_fpn_1x_coco.py, as ../pvtv2/retinanet_pvtv2_b0_fpn_1x_coco.py): mmdet's RetinaNet
# R50-FPN 1x, AdamW lr 1e-4, weight decay 1e-4, 8 GPUs x 2 images, FPN from stride 8 with extra convs
# on the input; drop path 0.0 (the official ImageNet value for XXS). No official weights exist:
# `pretrained` is a local ImageNet-1k checkpoint (e.g. trained with cloformer_xxs_in1k.py, or the
# official classification code, converted on load).
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'checkpoints/cloformer_xxs_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.CloFormer',
        arch='xxs',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 128, 256], start_level=1, add_extra_convs='on_input', num_outs=5))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
