# No peer library implements TransNeXt (the official code is compared in tests/test_transnext.py
# through a recorded fixture), so the preset measures ours alone.
PRESETS = {
    'transnext-micro': {
        'ours': ('vitdense', dict(type='TransNeXt', arch='micro', img_size=224, drop_path_rate=0.0)),
    },
    'transnext-tiny-det': {  # the Mask R-CNN setting: position bias generated for 800 px
        'ours': ('vitdense', dict(type='TransNeXt', arch='tiny', img_size=800, drop_path_rate=0.0)),
    },
}
