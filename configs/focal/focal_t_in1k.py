# Focal-T ImageNet-1k classification (mmpretrain). The official recipe (configs/
# focal_tiny_patch4_window7_224.yaml on the Swin training code: AdamW, 300 epochs, drop path 0.2,
# no weight decay on the three position-bias tables) is the Swin recipe of mmpretrain's
# swin-tiny_16xb64_in1k.py.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.FocalTransformer',
        arch='tiny',
        drop_path_rate=0.2,  # S: 0.3, B: 0.5
        out_indices=(3,)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    '.relative_position_bias_table_to_neighbors': dict(decay_mult=0.0),
    '.relative_position_bias_table_to_windows': dict(decay_mult=0.0)
}))
