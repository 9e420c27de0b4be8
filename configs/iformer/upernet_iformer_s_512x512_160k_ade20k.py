# UperNet with iFormer-S on ADE20K, 512x512 crops, 160k iterations (official README: 48.4 mIoU, 49M
# params). No official segmentation code or config was released; this is our Swin-T UperNet setting
# (../swin/upernet_swin_t_512x512_160k_ade20k.py: AdamW 6e-5, weight decay 0.01, 1500-iteration
# warm-up, poly decay, 8 GPUs x 2) with iFormer-S; drop path 0.2 is our choice. Position
# embeddings are resized to every input and get no weight decay here.
_base_ = '../swin/upernet_swin_t_512x512_160k_ade20k.py'

pretrained = 'https://huggingface.co/sail/dl2/resolve/main/iformer/iformer_small.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.InceptionTransformer',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[96, 192, 320, 384], num_classes=150),
    auxiliary_head=dict(in_channels=320, num_classes=150))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'pos_embed': dict(decay_mult=0.),
    'layer_scale': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.)
}))
