# Mask R-CNN with ViT-Adapter-T on COCO, 1x schedule: the official
# detection/configs/mask_rcnn/mask_rcnn_deit_adapter_tiny_fpn_1x_coco.py (czczup/ViT-Adapter) on
# mmdet 3: DeiT-T initialisation (converted on load), window attention (14) in all blocks but the
# last of each interaction group, AdamW 2e-4 / wd 0.01 without decay on embeddings, norms and biases.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_tiny_patch16_224-a1311bcf.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ViTAdapter',
        arch='tiny',
        drop_path_rate=0.1,
        layer_scale=True,
        window_attn=[True, True, False] * 4,
        window_size=[14, 14, None] * 4,
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[192, 192, 192, 192]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'level_embed': dict(decay_mult=0.),
        'pos_embed': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
        'bias': dict(decay_mult=0.)
    }))
# The reference numbers were trained on 8 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=16)
