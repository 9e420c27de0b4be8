"""Layer-wise learning-rate decay for detectors and segmentors with a ViT backbone.

mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` already implements the rule
(``lr * rate ** (num_layers - layer_id - 1)``, with its weight-decay multipliers), but asks the
*top-level* model for ``get_layer_depth``, which only mmpretrain's classifiers have; mmdet's and
mmseg's constructors only know ConvNeXt and BEiT/MAE names. This constructor runs mmpretrain's rule
with the layer ids of ``model.backbone.get_layer_depth`` (``vitdense.ViT``, ``vitdense.ViTAdapter``):
embeddings 0, block i -> i + 1, and everything else -- adapter modules, neck, heads -- the last id
(lr scale 1), as the official ViT-Adapter / BEiT constructor does. mmpretrain is imported when an
optimizer is built, not when ``vitdense`` is (it costs about a second).
"""
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``constructor='vitdense.LayerDecayOptimWrapperConstructor'`` with
    ``paramwise_cfg=dict(layer_decay_rate=0.95, ...)`` (see mmpretrain's
    ``LearningRateDecayOptimWrapperConstructor`` for the weight-decay options ``norm_decay_mult``,
    ``bias_decay_mult``, ``flat_decay_mult``, ``custom_keys``)."""

    def add_params(self, params, module, prefix='', get_layer_depth=None, **kwargs):
        from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor as Rule
        if get_layer_depth is None and prefix == '':
            model = module.module if is_model_wrapper(module) else module
            backbone = getattr(model, 'backbone', None)
            if backbone is None or not hasattr(backbone, 'get_layer_depth'):
                raise TypeError(f'LayerDecayOptimWrapperConstructor: {type(model).__name__} needs a backbone '
                                'with get_layer_depth(name, prefix) (vitdense.ViT / ViTAdapter); '
                                f'got {type(backbone).__name__}. Use the default constructor instead.')
            wrapped = 'module.' if model is not module else ''

            def get_layer_depth(name):
                return backbone.get_layer_depth(name, prefix=wrapped + 'backbone.')
        # mmpretrain's rule on this constructor's state (both derive from DefaultOptimWrapperConstructor);
        # it recurses through self.add_params with get_layer_depth set
        Rule.add_params(self, params, module, prefix=prefix, get_layer_depth=get_layer_depth, **kwargs)
