"""One file per family; importing this package registers every backbone in ``vitdense.MODELS``."""
from .swin import SwinTransformer, convert_swin_checkpoint

__all__ = ['SwinTransformer', 'convert_swin_checkpoint']
