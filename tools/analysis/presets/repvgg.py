# Both peers build the same network; the fused rows (deploy=True) are what inference runs.
PRESETS = {
    'repvgg-a0': {
        'ours': ('vitdense', dict(type='RepVGG', arch='a0')),
        'mmpretrain': ('mmpretrain', dict(type='RepVGG', arch='A0', out_indices=(0, 1, 2, 3))),
        'timm': ('timm', dict(model_name='repvgg_a0')),
    },
    'repvgg-b1g4': {
        'ours': ('vitdense', dict(type='RepVGG', arch='b1g4')),
        'mmpretrain': ('mmpretrain', dict(type='RepVGG', arch='B1g4', out_indices=(0, 1, 2, 3))),
        'timm': ('timm', dict(model_name='repvgg_b1g4')),
    },
    'repvgg-a0-deploy': {
        'ours': ('vitdense', dict(type='RepVGG', arch='a0', deploy=True)),
        'mmpretrain': ('mmpretrain', dict(type='RepVGG', arch='A0', out_indices=(0, 1, 2, 3), deploy=True)),
    },
}
