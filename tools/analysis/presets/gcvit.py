# timm's gcvit_* has a fixed input size (224 px by default, windows 7-7-14-7): 'gcvit-xxt' compares
# our ImageNet-window form with it; 'gcvit-xxt-dense' times our detection form (windows of 24) alone.
PRESETS = {
    'gcvit-xxt': {
        'ours': ('vitdense', dict(type='GCViT', arch='xxtiny', window_size=(7, 7, 14, 7),
                                  drop_path_rate=0.0)),
        'timm': ('timm', dict(model_name='gcvit_xxtiny')),
    },
    'gcvit-xxt-dense': {
        'ours': ('vitdense', dict(type='GCViT', arch='xxtiny', window_size=24, drop_path_rate=0.0)),
    },
}
