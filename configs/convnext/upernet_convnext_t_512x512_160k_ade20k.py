# UperNet with ConvNeXt-T on ADE20K, 512x512 crops, 160k iterations: the setting of mmseg's
# configs/convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py (a port of the official
# semantic_segmentation/configs/convnext/upernet_convnext_tiny_512_160k_ade20k_ss.py: drop path 0.4,
# AdamW 1e-4, stage-wise lr decay 0.9 over 6 layers through mmseg's
# LearningRateDecayOptimizerConstructor, poly schedule with 1500 warm-up iterations, AMP, 8x2 images)
# with our backbone and the official ImageNet-1k checkpoint.
_base_ = 'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://dl.fbaipublicfiles.com/convnext/convnext_tiny_1k_224.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ConvNeXt',
        arch='tiny',
        drop_path_rate=0.4,
        layer_scale_init_value=1.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))
