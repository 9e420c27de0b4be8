"""Everything registered in ``vitdense.registry.MODELS``: backbones and task models."""
from .. import backbones  # noqa: F401  (registers the backbone families)
