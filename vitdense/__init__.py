"""vitdense: hierarchical vision transformers and hybrid CNNs for OpenMMLab 2.x.

``custom_imports=dict(imports=['vitdense'])`` in a config registers every class below in the
``vitdense`` scope and installs the ``weights_only`` allowlist for mmengine checkpoints.
"""
from .version import __version__  # noqa: F401
from . import registry  # noqa: F401
from . import layers  # noqa: F401
from . import backbones  # noqa: F401  (registers the backbone families)
from . import datasets, engine  # noqa: F401
from . import restoration, fewshot  # noqa: F401  (GRL restoration; CAT-Net few-shot segmentation)
from .hub import get_model, list_models  # noqa: F401
from .utils.safe_load import register_safe_globals

register_safe_globals()  # weights_only allowlist + weights_only loaders for every mmengine scheme
