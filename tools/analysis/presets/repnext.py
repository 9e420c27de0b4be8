# No peer library implements RepNeXt (its equivalence is tested against the official code's outputs,
# tests/data/repnext_official_small.pt). The fused form (deploy=True) is what inference would run.
PRESETS = {
    'repnext-m0': {
        'ours': ('vitdense', dict(type='RepNeXt', arch='m0')),
    },
    'repnext-m3': {
        'ours': ('vitdense', dict(type='RepNeXt', arch='m3')),
    },
    'repnext-m3-deploy': {
        'ours': ('vitdense', dict(type='RepNeXt', arch='m3', deploy=True)),
    },
}
