# UperNet with ViT-Adapter-T on ADE20K, 512x512 crops, 160k iterations: the official
# segmentation/configs/ade20k/upernet_deit_adapter_tiny_512_160k_ade20k.py on mmseg 1.x. Global
# attention in every block, AdamW 1.2e-4 / wd 0.01 with layer-wise lr decay 0.95 over the 12 blocks
# (vitdense.LayerDecayOptimWrapperConstructor: embeddings lowest, adapter/decoder at full lr),
# poly schedule after 1500 warm-up iterations, sliding-window test (512 crops, stride 341).
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_tiny_patch16_224-a1311bcf.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.ViTAdapter',
        arch='tiny',
        drop_path_rate=0.1,
        layer_scale=True,
        window_attn=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[192, 192, 192, 192], num_classes=150),
    auxiliary_head=dict(in_channels=192, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=12e-5, betas=(0.9, 0.999), weight_decay=0.01),
    constructor='vitdense.LayerDecayOptimWrapperConstructor',
    # the official constructor exempts 1-D parameters (norms, biases, gammas) and pos_embed from decay
    paramwise_cfg=dict(layer_decay_rate=0.95, flat_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False)
]
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
