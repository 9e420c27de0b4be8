# Evaluating the official megvii-model/ShuffleNet-Series ShuffleNetV2 1.0x weights (OneDrive /
# BaiduYun downloads, no direct URL: pass the file with `--cfg-options
# model.backbone.init_cfg.checkpoint=PATH`). The official network order (channel_order='megvii'),
# and the official input: BGR pixels in 0..255, no mean/std normalisation (train.py ToBGRTensor);
# the official classifier is a bias-free linear layer, here mmpretrain's LinearClsHead (bias kept,
# zero when not in the checkpoint; the official 'classifier.0' key is not converted into the head).
_base_ = './shufflenet_v2_1.0x_in1k.py'

data_preprocessor = dict(mean=[0., 0., 0.], std=[1., 1., 1.], to_rgb=False)
model = dict(
    backbone=dict(channel_order='megvii',
                  init_cfg=dict(type='Pretrained', checkpoint='ShuffleNetV2.1.0x.pth.tar')))
