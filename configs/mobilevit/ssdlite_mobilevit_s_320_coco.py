# SSDLite-320 with MobileViT-S on COCO (paper, Table 3): mmdet's SSDLite recipe
# (ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py: 320x320, depthwise SSD neck and head, 600
# epochs) with the backbone replaced. The detector reads the stride-16 and stride-32 stage outputs
# (128 and 160 channels; the official ml-cvnets SSD reads layer_4 and layer_5 too), and the
# backbone starts from the official ImageNet-1k checkpoint. Differences from the official recipe
# (its extra layers, anchors and schedule are ml-cvnets' own) are listed in README.md.
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.MobileViT',
        arch='s',
        out_indices=(2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://docs-assets.developer.apple.com/ml-research/models/cvnets/classification/'
            'mobilevit_s.pt')),
    neck=dict(in_channels=(128, 160), out_channels=(128, 160, 512, 256, 256, 128)),
    bbox_head=dict(in_channels=(128, 160, 512, 256, 256, 128)))
