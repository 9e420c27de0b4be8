# UperNet with UniRepLKNet-L on ADE20K, 640x640 crops, 160k iterations: the official
# segmentation/configs/ade20k/upernet_unireplknet_l_in22k_640_160k_ade20k.py,
# i.e. upernet_unireplknet_s_in22k_640x640_160k_ade20k.py
# with drop path 0.4 and layer-wise lr decay 0.85 (num_layers 12), initialised from the official
# unireplknet_l_in22k_to_in1k_384_acc87.88.pth (Hugging Face).
# Official result: 54.5 / 55.0 mIoU single-scale / multi-scale (official README). Not trained here.
_base_ = './upernet_unireplknet_s_in22k_640x640_160k_ade20k.py'

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_l_in22k_to_in1k_384_acc87.88.pth'
model = dict(
    backbone=dict(arch='l', drop_path_rate=0.4, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.85))
