# Cascade Mask R-CNN with UniRepLKNet-B on COCO, 3x: the official
# detection/configs/coco/casc_mask_rcnn_unireplknet_b_in22k_fpn_3x_coco.py, i.e. the UniRepLKNet-T config
# (cascade_mask_rcnn_unireplknet_t_fpn_3x_coco.py) with drop path 0.6 and layer-wise lr decay 0.8.
# Official result: 54.8 box AP / 47.4 mask AP (official README). Not trained here.
# The official config leaves the checkpoint to the user and does not say which file was used: the
# IN-22k-pretrained one (Hugging Face) is our reading of "in22k".
_base_ = './cascade_mask_rcnn_unireplknet_t_fpn_3x_coco.py'

pretrained = 'https://huggingface.co/DingXiaoH/UniRepLKNet/resolve/main/unireplknet_b_in22k_pretrain.pth'
model = dict(
    backbone=dict(arch='b', drop_path_rate=0.6, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[128, 256, 512, 1024]))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
