# Cascade Mask R-CNN with UniRepLKNet-S on COCO, 3x: the official
# detection/configs/coco/casc_mask_rcnn_unireplknet_s_in22k_fpn_3x_coco.py, i.e. the UniRepLKNet-T config
# (cascade_mask_rcnn_unireplknet_t_fpn_3x_coco.py) with drop path 0.5 and layer-wise lr decay 0.8.
# Official result: 54.3 box AP / 47.1 mask AP (official README). Not trained here.
# The official config leaves the checkpoint to the user and does not say which file was used: the
# IN-22k-pretrained one (Hugging Face) is our reading of "in22k".
_base_ = './cascade_mask_rcnn_unireplknet_t_fpn_3x_coco.py'

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_s_in22k_pretrain.pth'
model = dict(
    backbone=dict(arch='s', drop_path_rate=0.5, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 768]))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
