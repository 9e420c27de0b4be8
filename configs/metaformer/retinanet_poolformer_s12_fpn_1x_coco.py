# RetinaNet with PoolFormer-S12 on COCO, 1x schedule: the setting of the official
# detection/configs/retinanet_poolformer_s12_fpn_1x_coco.py (sail-sg/poolformer; AdamW lr 1e-4,
# weight decay 1e-4, FPN from stage 1 with extra convs on the input), with our backbone and the
# official ImageNet-1k checkpoint (converted on load). The official run sets FORK_LAST3=1 so that
# stage 0 has no output norm (FPN does not read it); here out_indices=(1, 2, 3) drops stage 0's
# output altogether, which is the same network.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://github.com/sail-sg/poolformer/releases/download/v1.0/poolformer_s12.pth.tar'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.PoolFormer',
        arch='s12',
        drop_path_rate=0.0,
        out_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 320, 512], start_level=0, add_extra_convs='on_input', num_outs=5))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001))
# The reference numbers were trained on 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
