# Mask R-CNN with FastViT-SA12 on COCO, 1x schedule (12 epochs, 1333x800), the detection setting of
# the FastViT paper (arXiv 2303.14189, Sec. 4.3, which follows the PoolFormer protocol: AdamW lr 2e-4,
# weight decay 1e-4, 8 GPUs x 2 images). apple/ml-fastvit releases no detection config: the
# optimizer values are PoolFormer's (sail-sg/poolformer detection/configs). Our backbone with the
# official unfused ImageNet-1k checkpoint (converted on load) and its dense output BatchNorms.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://docs-assets.developer.apple.com/ml-research/models/fastvit/image_classification_models/fastvit_sa12.pth.tar'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.FastViT',
        arch='sa12',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        out_norm=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 512]))

optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.0002, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
