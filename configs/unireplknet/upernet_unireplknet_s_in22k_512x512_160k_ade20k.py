# UperNet with UniRepLKNet-S on ADE20K, 512x512 crops, 160k iterations: the official
# segmentation/configs/ade20k/upernet_unireplknet_s_in22k_512_160k_ade20k.py,
# i.e. upernet_unireplknet_t_512x512_160k_ade20k.py
# with drop path 0.3 and layer-wise lr decay 0.9 (num_layers 12), initialised from the official
# unireplknet_s_in22k_to_in1k_384_acc86.44.pth (Hugging Face).
# Official result: 51.9 / 52.7 mIoU single-scale / multi-scale (official README). Not trained here.
_base_ = './upernet_unireplknet_t_512x512_160k_ade20k.py'

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_s_in22k_to_in1k_384_acc86.44.pth'
model = dict(
    backbone=dict(arch='s', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))
