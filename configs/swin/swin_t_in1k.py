# Swin-T ImageNet-1k classification (mmpretrain): the same backbone class serves classification;
# recipe of mmpretrain's swin-tiny_16xb64_in1k.py.
_base_ = 'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.SwinTransformer',
        arch='tiny',
        window_size=7,
        drop_path_rate=0.2,
        out_indices=(3,)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))
