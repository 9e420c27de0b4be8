# Shared by the DAT++ COCO configs (LeapLabTHU/DAT-Detection): the DETR / Sparse R-CNN multi-scale +
# random-crop augmentation and the optimizer's no-decay groups. Names that no mmdet base uses, so
# the configs can list this file beside an mmdet base.
ms_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333), (640, 1333), (672, 1333),
             (704, 1333), (736, 1333), (768, 1333), (800, 1333)]
ms_crop_choice = dict(
    type='RandomChoice',
    transforms=[[dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True)], [
        dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)], keep_ratio=True),
        dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600), allow_negative_crop=True),
        dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True)
    ]])
datpp_paramwise_cfg = dict(
    norm_decay_mult=0.,
    custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'rpe_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    })
