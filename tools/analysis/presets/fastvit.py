# timm's fastvit_* is the official network (apple/ml-fastvit) under timm names, our peer; its
# forward_intermediates has no output norms, so ours runs with out_norm=False. The deploy rows
# (fused: deploy=True / timm inference_mode=True) are what inference runs.
PRESETS = {
    'fastvit-t8': {
        'ours': ('vitdense', dict(type='FastViT', arch='t8', out_norm=False)),
        'timm': ('timm', dict(model_name='fastvit_t8')),
    },
    'fastvit-sa12': {
        'ours': ('vitdense', dict(type='FastViT', arch='sa12', out_norm=False)),
        'timm': ('timm', dict(model_name='fastvit_sa12')),
    },
    'fastvit-sa12-deploy': {
        'ours': ('vitdense', dict(type='FastViT', arch='sa12', out_norm=False, deploy=True)),
        'timm': ('timm', dict(model_name='fastvit_sa12', inference_mode=True)),
    },
}
