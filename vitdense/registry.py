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


def _child(name, parent, location):
    return Registry(name, parent=parent, scope='vitdense', locations=[location])


MODELS = _child('model', MMENGINE_MODELS, 'vitdense.models')
WEIGHT_INITIALIZERS = _child('weight initializer', MMENGINE_WEIGHT_INITIALIZERS, 'vitdense.models')
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS, 'vitdense.models')
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, 'vitdense.models')

DATASETS = _child('dataset', MMENGINE_DATASETS, 'vitdense.datasets')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS, 'vitdense.datasets')
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS, 'vitdense.datasets')

METRICS = _child('metric', MMENGINE_METRICS, 'vitdense.evaluation')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, 'vitdense.evaluation')

OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS, 'vitdense.engine')
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS, 'vitdense.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor', MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'vitdense.engine')
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS, 'vitdense.engine')
HOOKS = _child('hook', MMENGINE_HOOKS, 'vitdense.engine')
LOOPS = _child('loop', MMENGINE_LOOPS, 'vitdense.engine')

VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, 'vitdense.visualization')
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS, 'vitdense.visualization')
