# Mask R-CNN with STViT-R-Swin-S on COCO, 1x schedule. The paper reports Mask R-CNN too, but the
# official detection repository releases only the Cascade Mask R-CNN 3x configs, so this is our
# Swin-T 1x setting (../swin/mask_rcnn_swin_t.py: mmdet's single-scale 1x, AdamW 1e-4, weight decay
# 0.05, no decay on norms) with STViT-R-Swin-S and the official drop path 0.2.
_base_ = '../swin/mask_rcnn_swin_t.py'

pretrained = 'https://huggingface.co/csncsn/STViT-R/resolve/main/STViT-R-Swin-S.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.STViTR',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
