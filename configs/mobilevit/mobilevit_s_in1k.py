# MobileViT-S ImageNet-1k classification: mmpretrain's own MobileViT-S config (8 GPUs x 128
# images, 256x256 crops, inputs scaled to [0, 1] as the official code does) with the backbone
# replaced. final_conv=True adds the classifier's 1x1 expansion (640 channels) that mmpretrain's
# backbone has. The official ml-cvnets mobilevit_s.pt, timm's mobilevit_s and mmpretrain's released
# checkpoint load through init_cfg (their keys are converted).
_base_ = 'mmpretrain::mobilevit/mobilevit-small_8xb128_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.MobileViT', arch='s', final_conv=True, out_indices=(3, )),
    head=dict(in_channels=640))
