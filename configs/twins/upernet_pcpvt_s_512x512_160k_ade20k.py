# UperNet with Twins-PCPVT-S on ADE20K, 512x512 crops, 160k iterations ("Swin setting"): the official
# segmentation/configs/upernet_pcpvt_s_512x512_160k_ade20k_swin_setting.py (Meituan-AutoML/Twins),
# through mmseg's reproduction twins_pcpvt-s_uperhead_8xb4-160k_ade20k-512x512.py (AdamW 6e-5,
# weight decay 0.01 except norms and PEG, 1500-iteration warm-up, poly decay), our backbone.
_base_ = 'mmseg::twins/twins_pcpvt-s_uperhead_8xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/pcpvt_small_20220308-e638c41c.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.TwinsPCPVT',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
    auxiliary_head=dict(in_channels=320))
