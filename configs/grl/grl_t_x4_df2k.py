# GRL-T classical SR x4: DF2K training, Set5 / Set14 / BSD100 / Urban100 / Manga109 test.
# Window 32, 64x64 anchored stripes, anchor down factor 4 (official config/experiment/sr/grl/grl_p256.yaml).
_base_ = ['./_base_/default_runtime.py', './_base_/sr_x4.py']

model = dict(
    type='Restorer',
    generator=dict(type='GRL', arch='T', upscale=4, window_size=32, stripe_size=(64, 64),
                   stripe_groups=(None, None), anchor_window_down_factor=4),
    pixel_loss='l1',
    test_cfg=dict(tile=640, tile_overlap=32, self_ensemble=False))
