# STViT-R-Swin-S ImageNet-1k classification (mmpretrain) with the dense backbone. The official
# recipe (changsn/STViT-R, Swin's main.py / config.py): 300 epochs, 20 warm-up, AdamW 5e-4 for
# 1024 images, weight decay 0.05, gradient clipping 5, drop path 0.3 (configs/swin_small_...yaml):
# mmpretrain's Swin schedule with these values.
# Not the official classifier: its third stage differs in two blocks of every group (the refinement
# attends to [semantic, image] tokens globally, the recovery is global too; same parameter names,
# so the official classification weights load into this backbone, as the official detection
# training does); here the raw last stage is pooled into a linear head.
_base_ = 'mmpretrain::swin_transformer/swin-small_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.STViTR',
        arch='small',
        drop_path_rate=0.3,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))
