# ShuffleNet v1 1.0x (g=3) ImageNet-1k classification: mmpretrain's own recipe
# (shufflenet-v1-1x_16xb64_in1k: 16 GPUs x 64 images, SGD with linear decay, no weight decay on
# BatchNorms) with the backbone replaced. channel_order='mmpretrain' computes mmpretrain's network,
# so its released checkpoint (shufflenet_v1_batch1024_imagenet_20200804-5d6cec73.pth) loads
# through init_cfg; from scratch either order trains. out_indices=(3, ) is the last stage (960).
_base_ = 'mmpretrain::shufflenet_v1/shufflenet-v1-1x_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(_delete_=True, type='vitdense.ShuffleNetV1', arch='g3_1.0x', channel_order='mmpretrain',
                  out_indices=(3, )),
    head=dict(in_channels=960))
