# No peer library implements ScopeViT (its equivalence is tested against the official code's
# outputs, tests/data/scopevit_official_small.pt).
PRESETS = {
    'scopevit-xt': {
        'ours': ('vitdense', dict(type='ScopeViT', arch='xtiny', drop_path_rate=0.0)),
    },
    'scopevit-t': {
        'ours': ('vitdense', dict(type='ScopeViT', arch='tiny', drop_path_rate=0.0)),
    },
}
