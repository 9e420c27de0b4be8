# ShuffleNet v2 1.0x ImageNet-1k classification: mmpretrain's own recipe
# (shufflenet-v2-1x_16xb64_in1k: 16 GPUs x 64 images, SGD with linear decay, no weight decay on
# BatchNorms) with the backbone replaced. channel_order='mmpretrain' computes mmpretrain's network,
# so its released checkpoint (shufflenet_v2_batch1024_imagenet_20200812-5bf4721e.pth) loads
# through init_cfg. out_indices=(3, ) is the last stage after conv_last (1024 channels).
_base_ = 'mmpretrain::shufflenet_v2/shufflenet-v2-1x_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.ShuffleNetV2', arch='1.0x', channel_order='mmpretrain',
                  out_indices=(3, )),
    head=dict(in_channels=1024))
