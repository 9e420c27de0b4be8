# UperNet with ViT-Adapter-S on ADE20K: official upernet_deit_adapter_small_512_160k_ade20k.py (lr 6e-5).
_base_ = './upernet_vit_adapter_t_512x512_160k_ade20k.py'

pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth'
model = dict(
    backbone=dict(arch='small', drop_path_rate=0.2, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[384, 384, 384, 384]),
    auxiliary_head=dict(in_channels=384))
optim_wrapper = dict(optimizer=dict(lr=6e-5))
