# DeepLabv3 with MobileViT-S on PASCAL VOC 2012 (+ SBD aug), 512x512 (paper, Table 4): mmseg's
# DeepLabv3 VOC recipe (deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py) with the backbone replaced
# and the backbone starting from the official ImageNet-1k checkpoint. The ASPP head reads the
# stride-32 output (160 channels), the auxiliary FCN head the stride-16 one (128). The official
# model dilates layer_5 (output stride 16) and uses an ASPP of 256 channels with rates 6/12/18;
# ours has no dilated mode, so the ASPP runs at stride 32 (see README.md).
_base_ = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb4-20k_voc12aug-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='vitdense.MobileViT',
        arch='s',
        out_indices=(2, 3),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://docs-assets.developer.apple.com/ml-research/models/cvnets/classification/'
            'mobilevit_s.pt')),
    decode_head=dict(in_channels=160, in_index=1, channels=256, dilations=(1, 6, 12, 18)),
    auxiliary_head=dict(in_channels=128, in_index=0, channels=128))
