# UperNet with UniRepLKNet-B on ADE20K, 640x640 crops, 160k iterations: the official
# segmentation/configs/ade20k/upernet_unireplknet_b_in22k_640_160k_ade20k.py,
# i.e. upernet_unireplknet_s_in22k_640x640_160k_ade20k.py
# with drop path 0.3 and layer-wise lr decay 0.9 (num_layers 12), initialised from the official
# unireplknet_b_in22k_to_in1k_384_acc87.40.pth (Hugging Face).
# Official result: 53.5 / 53.9 mIoU single-scale / multi-scale (official README). Not trained here.
_base_ = './upernet_unireplknet_s_in22k_640x640_160k_ade20k.py'

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_b_in22k_to_in1k_384_acc87.40.pth'
model = dict(
    backbone=dict(arch='b', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))
