"""The ``vitdense`` registry scope.

Every registry here is a child of mmengine's root registry of the same kind, with
``scope='vitdense'``. A config of any OpenMMLab library (``default_scope`` mmdet, mmseg or
mmpretrain) reaches our classes with a scoped type name, e.g.
``backbone=dict(type='vitdense.SwinTransformer')``: mmengine finds the ``vitdense`` child of its
root registry and looks the name up there, so our ``SwinTransformer`` never clashes with the
libraries' own classes of the same name.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry


def _child(name, parent, *locations):
    return Registry(name, parent=parent, scope='vitdense', locations=list(locations))


# `locations` are the modules that register into each registry (mmengine imports them on the first
# lookup); tests/test_packaging.py checks every registered class against them. A registry nothing
# registers into yet has none: add the module when something does.
MODELS = _child('model', MMENGINE_MODELS, 'vitdense.backbones', 'vitdense.restoration', 'vitdense.fewshot')
WEIGHT_INITIALIZERS = _child('weight initializer', MMENGINE_WEIGHT_INITIALIZERS)
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS, 'vitdense.utils.launch')
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS)

DATASETS = _child('dataset', MMENGINE_DATASETS, 'vitdense.restoration', 'vitdense.fewshot')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS)
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS, 'vitdense.restoration')

METRICS = _child('metric', MMENGINE_METRICS, 'vitdense.restoration', 'vitdense.fewshot')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR)

OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS)
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor', MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'vitdense.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS)
HOOKS = _child('hook', MMENGINE_HOOKS, 'vitdense.engine')
LOOPS = _child('loop', MMENGINE_LOOPS)

VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS)
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS)
