# Mask R-CNN with iFormer-B on COCO, 1x schedule (official README: 48.3 box / 43.3 mask AP, 67M
# params). No official detection code or config exists; the setting of
# mask_rcnn_iformer_s_fpn_1x_coco.py (our Swin-T 1x recipe) with iFormer-B; drop path 0.3 is our
# choice (the official ImageNet value for B is 0.4).
_base_ = './mask_rcnn_iformer_s_fpn_1x_coco.py'

pretrained = 'https://huggingface.co/sail/dl2/resolve/main/iformer/iformer_base.pth'
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 384, 512]))
