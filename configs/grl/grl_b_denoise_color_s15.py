# GRL-B colour Gaussian denoising, sigma 15 (0-255 scale; the data base config's default).
# Window 16, 64x128 stripes, anchor down 4.
_base_ = ['./_base_/default_runtime.py', './_base_/denoise_color.py']

model = dict(
    type='Restorer',
    generator=dict(type='GRL', arch='B', upscale=1, window_size=16, stripe_size=(64, 128),
                   stripe_groups=(None, None), anchor_window_down_factor=4),
    pixel_loss='l1',
    test_cfg=dict(tile=None, tile_overlap=32, self_ensemble=False))
