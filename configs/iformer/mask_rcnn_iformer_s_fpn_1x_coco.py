# Mask R-CNN with iFormer-S on COCO, 1x schedule (official README: 46.2 box / 41.9 mask AP, 40M
# params). sail-sg/iFormer released no detection code or config, so this is our Swin-T 1x setting
# (../swin/mask_rcnn_swin_t.py: mmdet's single-scale 1x, AdamW 1e-4, weight decay 0.05, 8 GPUs x 2)
# with iFormer-S; drop path 0.2 (the official ImageNet value for S) is our choice. Position
# embeddings (sized for 224 px) are resized to every input, and get no weight decay here.
# Weights: the official ImageNet-1k release (a bare state dict; head dropped, final norm -> norm3).
_base_ = '../swin/mask_rcnn_swin_t.py'

pretrained = 'https://huggingface.co/sail/dl2/resolve/main/iformer/iformer_small.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.InceptionTransformer',
        arch='small',
        pretrain_img_size=224,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[96, 192, 320, 384]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'pos_embed': dict(decay_mult=0.),
    'layer_scale': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.)
}))
