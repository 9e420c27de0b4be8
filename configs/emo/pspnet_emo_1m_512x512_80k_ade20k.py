# PSPNet with EMO-1M on ADE20K, 80k: the official pspnet_emo_1M_512x512_80k_ade20k.py has the
# recipe of pspnet_emo_5m_512x512_80k_ade20k.py with windows of 7, drop path 0.04036 and the
# 1M weights.
_base_ = './pspnet_emo_5m_512x512_80k_ade20k.py'

model = dict(
    backbone=dict(arch='1m', window_size=7, drop_path_rate=0.04036,
                  init_cfg=dict(checkpoint='https://github.com/zhangzjn/EMO/raw/main/resources/EMO_1M/net.pth')),
    decode_head=dict(in_channels=168),
    auxiliary_head=dict(in_channels=80))
