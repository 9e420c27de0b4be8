"""One file per family. Importing this package imports every family module in it, which
registers each backbone in ``vitdense.registry.MODELS`` (a family module that fails to import is an
error, never skipped)."""
import importlib
import pkgutil

from .swin import SwinTransformer, convert_swin_checkpoint

_FAMILIES = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in ('base', ))
for _name in _FAMILIES:
    importlib.import_module(f'{__name__}.{_name}')

__all__ = ['SwinTransformer', 'convert_swin_checkpoint']
