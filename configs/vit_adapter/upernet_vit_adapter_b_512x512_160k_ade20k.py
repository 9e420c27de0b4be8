# UperNet with ViT-Adapter-B on ADE20K: official upernet_deit_adapter_base_512_160k_ade20k.py (lr 6e-5).
_base_ = './upernet_vit_adapter_t_512x512_160k_ade20k.py'

pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth'
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[768, 768, 768, 768]),
    auxiliary_head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(lr=6e-5))
