# mmpretrain's ShuffleNetV1 / ShuffleNetV2 are the peers (no timm model); ours in mmpretrain's
# channel order computes the same network. mmpretrain returns the stage maps (8/16/32, + conv_last
# for v2), ours the stride-4 stem map as well: equal work beyond one max-pool output.
PRESETS = {
    'shufflenet-v1-g3-1.0x': {
        'ours': ('vitdense', dict(type='ShuffleNetV1', arch='g3_1.0x', channel_order='mmpretrain')),
        'mmpretrain': ('mmpretrain', dict(type='ShuffleNetV1', groups=3, widen_factor=1.0,
                                          out_indices=(0, 1, 2))),
    },
    'shufflenet-v2-1.0x': {
        'ours': ('vitdense', dict(type='ShuffleNetV2', arch='1.0x', channel_order='mmpretrain')),
        'mmpretrain': ('mmpretrain', dict(type='ShuffleNetV2', widen_factor=1.0, out_indices=(0, 1, 3))),
    },
}
