# Cascade Mask R-CNN with UniRepLKNet-S on COCO, 3x: the official
# detection/configs/coco/casc_mask_rcnn_unireplknet_s_in1k_fpn_3x_coco.py, i.e. the UniRepLKNet-T config
# (cascade_mask_rcnn_unireplknet_t_fpn_3x_coco.py) with drop path 0.5 and layer-wise lr decay 0.8.
# Official result: 53.0 box AP / 45.9 mask AP (official README). Not trained here.
# ImageNet-1k classifier weights (Hugging Face), loaded as they are.
_base_ = './cascade_mask_rcnn_unireplknet_t_fpn_3x_coco.py'

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_s_in1k_224_acc83.91.pth'
model = dict(
    backbone=dict(arch='s', drop_path_rate=0.5, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
