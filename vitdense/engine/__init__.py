"""Registered in the vitdense scope (see vitdense/registry.py)."""
from .layer_decay import LayerDecayOptimWrapperConstructor  # noqa: F401
from .resume import ExactResumeHook  # noqa: F401
