# Semantic FPN with Shunted-B on ADE20K: the recipe of fpn_shunted_s_512x512_40k_ade20k.py; only the
# backbone differs (same channels).
_base_ = './fpn_shunted_s_512x512_40k_ade20k.py'

model = dict(backbone=dict(arch='base', init_cfg=dict(checkpoint='checkpoints/shunted_b.pth')))
