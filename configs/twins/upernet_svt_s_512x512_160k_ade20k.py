# UperNet with Twins-SVT-S on ADE20K, 512x512 crops, 160k iterations ("Swin setting"): the official
# segmentation/configs/upernet_alt_gvt_s_512x512_160k_ade20k_swin_setting.py, through mmseg's
# twins_svt-s_uperhead_8xb2-160k_ade20k-512x512.py, our backbone (LSA padding masked as in the
# official segmentation code: lsa_pad_mask=True, the default).
_base_ = 'mmseg::twins/twins_svt-s_uperhead_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['vitdense'], allow_failed_imports=False)

pretrained = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/alt_gvt_small_20220308-7e1c3695.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='vitdense.TwinsSVT',
        arch='small',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
