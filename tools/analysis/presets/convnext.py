PRESETS = {
    'convnext-t': {
        'ours': ('vitdense', dict(type='ConvNeXt', arch='tiny', drop_path_rate=0.0)),
        'mmpretrain': ('mmpretrain', dict(type='ConvNeXt', arch='tiny', out_indices=(0, 1, 2, 3),
                                          gap_before_final_norm=False, drop_path_rate=0.0)),
    },
}
