"""Backbones by name, as timm's ``list_models`` / ``create_model`` and mmpretrain's
``list_models`` / ``get_model`` do it.

A name is ``<prefix>_<arch>``: the family's ``model_name_prefix`` (``BaseBackbone``; the lower-case
class name unless the class itself sets a shorter one, e.g. ``swin``; never inherited) and one of its ``arch_zoo`` keys.
Every key names a model; keys that name the same settings (``'t'`` and ``'tiny'``) are aliases and
``list_models`` lists the shortest (``swin_t``; ``swin_tiny`` builds the same). Case and ``-`` /
``_`` do not matter.

    >>> import vitdense
    >>> vitdense.list_models('pvtv2*')[:3]
    ['pvtv2_b0', 'pvtv2_b1', 'pvtv2_b2']
    >>> m = vitdense.get_model('swin_t', pretrained='swin_tiny_patch4_window7_224.pth', out_indices=(1, 2, 3))
"""
import difflib
import fnmatch
from typing import Dict, List, Optional, Tuple

import torch.nn as nn

__all__ = ['list_models', 'get_model']


def _canonical(name: str) -> str:
    return name.lower().replace('-', '_')


def _prefix(cls, cls_name: str) -> str:
    """The class's own ``model_name_prefix`` (not inherited: STViTR derives from SwinTransformer)."""
    return cls.__dict__.get('model_name_prefix') or cls_name.lower()


def _catalogue() -> Dict[str, Tuple[str, str, bool]]:
    """canonical name -> (registered class name, arch key, listed); aliases have listed False."""
    from .backbones.base import BaseBackbone
    from .registry import MODELS
    import vitdense.backbones  # noqa: F401  (registers the families)
    out = {}
    for cls_name, cls in sorted(MODELS.module_dict.items()):
        if not (isinstance(cls, type) and issubclass(cls, BaseBackbone)):
            continue
        prefix = _prefix(cls, cls_name)
        groups: List[List[str]] = []  # keys with equal settings, in zoo order
        for key, settings in cls.arch_zoo.items():
            for g in groups:
                if cls.arch_zoo[g[0]] == settings:
                    g.append(key)
                    break
            else:
                groups.append([key])
        for keys in groups:
            primary = min(keys, key=lambda k: (len(k), keys.index(k)))
            for key in keys:
                name = _canonical(f'{prefix}_{key}')
                if name in out:
                    raise RuntimeError(f'model name {name!r} is given by both {out[name][0]} and {cls_name}; '
                                       f'set model_name_prefix on one of them')
                out[name] = (cls_name, key, key == primary)
    return out


def list_models(pattern: Optional[str] = None, include_aliases: bool = False) -> List[str]:
    """Sorted backbone names, optionally filtered by a shell-style ``pattern`` (``'swin*'``)."""
    names = sorted(n for n, (_, _, listed) in _catalogue().items() if listed or include_aliases)
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatchcase(n, _canonical(pattern))]
    return names


def get_model(name: str, pretrained: Optional[str] = None, **overrides) -> nn.Module:
    """Build the backbone ``name`` (see ``list_models``) with ``overrides`` as constructor
    arguments (``out_indices``, ``drop_path_rate``, ...). ``pretrained`` is a checkpoint path or URL
    of any layout the family's converter reads; it loads as ``init_cfg`` would (weights_only)."""
    catalogue = _catalogue()
    key = _canonical(name)
    if key not in catalogue:
        close = difflib.get_close_matches(key, list(catalogue), n=5, cutoff=0.6)
        hint = f'; did you mean {", ".join(close)}?' if close else ''
        raise ValueError(f'vitdense has no model named {name!r}{hint} (vitdense.list_models() lists them all)')
    if pretrained is True or pretrained is False:
        raise TypeError('get_model: pretrained is a checkpoint path or URL (the official releases are listed in '
                        'each family\'s configs/<family>/README.md), not a bool')
    cls_name, arch, _ = catalogue[key]
    if 'arch' in overrides or 'type' in overrides:
        raise TypeError(f'get_model({name!r}): the name sets type and arch; pass other constructor arguments')
    from .registry import MODELS
    # the scoped name: under another library's default scope (a Runner of mmpretrain was built
    # before, say) a bare 'RepVGG' would build that library's class
    cfg = dict(type=f'vitdense.{cls_name}', arch=arch, **overrides)
    if pretrained:
        cfg['init_cfg'] = dict(type='Pretrained', checkpoint=str(pretrained))
    model = MODELS.build(cfg)
    if pretrained:
        model.init_weights()
    return model
