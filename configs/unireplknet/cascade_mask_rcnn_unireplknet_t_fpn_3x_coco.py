# Cascade Mask R-CNN (4conv1fc heads, GIoU, SyncBN heads) with UniRepLKNet-T on COCO, 3x schedule with
# the DETR-style multi-scale + crop augmentation: the official
# detection/configs/coco/casc_mask_rcnn_unireplknet_t_in1k_fpn_3x_coco.py (AILab-CVC/UniRepLKNet @
# b5677d8, mmdet 2.28) in mmdet 3.x form. Its heads, augmentation and 36-epoch step schedule
# ([27, 33]) are those of mmdet's ConvNeXt-T cascade config, inherited here; what differs is set
# below as the official config has it: drop path 0.3, SyncBN in the backbone, AdamW 1e-4 (weight
# decay 0.05, none on 1-D parameters), the official layer-wise lr decay 0.8 (num_layers 12, through
# UniRepLKNet.get_layer_depth), 500 warm-up iterations, fp32 (no AMP), 8 GPUs x 2 images.
# Official result: 51.7 box AP / 44.9 mask AP (official README). Not trained here.
# The official config leaves the checkpoint to the user (pretrained = None); the ImageNet-1k
# classifier it was trained from is this Hugging Face file (loaded as it is, classifier dropped).
_base_ = 'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_t_in1k_224_acc83.21.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.UniRepLKNet',
        arch='tiny',
        drop_path_rate=0.3,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        out_indices=(0, 1, 2, 3),
        with_cp=True,  # as the official config (memory only)
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[80, 160, 320, 640]))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='vitdense.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.8, flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
