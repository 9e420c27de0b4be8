# ViT-Adapter-T UperNet on the embedded toy ADE20K dataset (tools/dataset/make_toy_ade20k.py): the
# Swin-T toy setting with our backbone and the layer-wise lr decay of the ADE20K configs, so the
# CI test also trains through vitdense.LayerDecayOptimWrapperConstructor.
_base_ = '../swin/upernet_swin_t_toy.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ViTAdapter',
        arch='tiny',
        drop_path_rate=0.0,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None),
    decode_head=dict(in_channels=[192, 192, 192, 192]),
    auxiliary_head=dict(in_channels=192))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='vitdense.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.95, flat_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.)}))
