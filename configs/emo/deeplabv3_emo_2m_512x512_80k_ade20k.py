# DeepLabv3 with EMO-2M on ADE20K, 80k: the official deeplabv3_emo_2M_pretrain_512x512_80k_ade20k.py
# has the recipe of deeplabv3_emo_5m_512x512_80k_ade20k.py with windows of 7, drop path 0.05
# and the 2M weights.
_base_ = './deeplabv3_emo_5m_512x512_80k_ade20k.py'

model = dict(
    backbone=dict(arch='2m', window_size=7, drop_path_rate=0.05,
                  init_cfg=dict(checkpoint='https://github.com/zhangzjn/EMO/raw/main/resources/EMO_2M/net.pth')),
    decode_head=dict(in_channels=200),
    auxiliary_head=dict(in_channels=120))
