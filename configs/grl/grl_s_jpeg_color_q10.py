# GRL-S colour JPEG compression artifact removal, quality 10 (the data base config's default).
# Window 36, 72x144 stripes, anchor down 4.
_base_ = ['./_base_/default_runtime.py', './_base_/jpeg_color.py']

model = dict(
    type='Restorer',
    generator=dict(type='GRL', arch='S', upscale=1, window_size=36, stripe_size=(72, 144),
                   stripe_groups=(None, None), anchor_window_down_factor=4),
    pixel_loss='charbonnier',
    test_cfg=dict(tile=576, tile_overlap=72, self_ensemble=False))
