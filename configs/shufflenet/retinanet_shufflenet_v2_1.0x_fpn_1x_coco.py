# RetinaNet with ShuffleNet v2 1.0x on COCO, 1x schedule: OUR choice, not a published recipe (the
# papers' detection results use their own Faster R-CNN / Light-Head R-CNN code, see README.md).
# mmdet's RetinaNet-R50 1x recipe with the backbone replaced, mmpretrain's released ImageNet-1k
# checkpoint (channel_order='mmpretrain', 'backbone.' keys converted on load); FPN on strides
# 8/16/32 (start_level=1 skips the stride-4 stem map) plus two extra levels.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = ('https://download.openmmlab.com/mmclassification/v0/shufflenet_v2/'
              'shufflenet_v2_batch1024_imagenet_20200812-5bf4721e.pth')
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ShuffleNetV2',
        arch='1.0x',
        channel_order='mmpretrain',
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[24, 116, 232, 1024], start_level=1, add_extra_convs='on_input', num_outs=5))
