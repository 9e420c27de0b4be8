# Semantic FPN with Agent-PVT-T on ADE20K, 512x512 crops, 40k iterations: the setting of the official
# downstream/segmentation/configs/agent_pvt/fpn_agent_pvt_t_12-16-28-28.py (LeapLabTHU/Agent-Attention):
# PVT's Semantic FPN schedule (AdamW 2e-4, weight decay 1e-4, poly decay, power 0.9) with 2 images
# per GPU (the official samples_per_gpu), pooled agent grids 12-16-28-28 and drop path 0.1.
_base_ = '../pvt/fpn_pvt_t_512x512_40k_ade20k.py'

pretrained = 'https://cloud.tsinghua.edu.cn/f/13fdf0e0a7c5498c934f/?dl=1'  # agent_pvt_t ImageNet-1k
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.AgentPVT',
        arch='tiny',
        agent_shapes=(12, 16, 28, 28),
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
train_dataloader = dict(batch_size=2)
