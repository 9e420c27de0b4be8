"""Load every mmengine checkpoint with ``torch.load(weights_only=True)``.

torch >= 2.6 defaults to ``weights_only=True``, but a checkpoint written by mmengine's Runner
(``CheckpointHook``) holds a few non-tensor objects besides the weights: the ``message_hub`` keeps
its logged scalars as :class:`mmengine.logging.HistoryBuffer` objects whose histories are numpy
arrays. Those globals are refused by default, and mmengine's own HTTP loader
(``torch.hub.load_state_dict_from_url``) still loads with ``weights_only=False``.

This module

* lists exactly the globals an mmengine checkpoint needs (:data:`MMENGINE_SAFE_GLOBALS`, found by
  saving a real checkpoint from a Runner, calling
  ``torch.serialization.get_unsafe_globals_in_checkpoint`` on it and then loading it: the numpy
  dtype classes are only refused at load time), with ``builtins.getattr`` narrowed to the one use
  mmengine makes of it,
* allowlists them (:func:`register_safe_globals`, called once when ``vitdense`` is imported),
* and, through :mod:`vitdense.utils.checkpoint_loaders`, replaces mmengine's checkpoint loaders
  (local files, http(s), ``torchvision://``,
  ``open-mmlab://``, ``mmcls://``, ``s3://``, ``pavi://``) with ones that pass
  ``weights_only=True`` explicitly (so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn it off), and
  turn torch's refusal into an :class:`UnsafeCheckpointError` naming the file, the refused globals
  and the fix.

Nothing here changes torch's global default: a plain ``torch.load(path)`` of an untrusted file still
refuses it.
"""
import importlib
import os
import os.path as osp
import pickle
import re
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from mmengine.logging import HistoryBuffer

__all__ = [
    'MMENGINE_SAFE_GLOBALS', 'UnsafeCheckpointError', 'register_safe_globals', 'allow_globals',
    'safe_torch_load', 'resave_weights_only'
]


def _numpy_multiarray():
    """``numpy.core.multiarray`` (numpy 1.x) or ``numpy._core.multiarray`` (numpy 2.x)."""
    try:
        return importlib.import_module('numpy._core.multiarray')
    except ImportError:
        return importlib.import_module('numpy.core.multiarray')


_multiarray = _numpy_multiarray()


def _history_buffer_getattr(obj, name):
    """Stands in for ``builtins.getattr`` while unpickling: HistoryBuffer's statistics methods only.

    ``HistoryBuffer.__getstate__`` saves ``statistics_methods`` ({'min': HistoryBuffer.min, ...});
    pickle stores each of those functions as ``getattr(HistoryBuffer, 'min')``. Allowing the real
    ``getattr`` would let a checkpoint walk attributes of every allowed object; this one resolves
    exactly those functions and refuses anything else.
    """
    if obj is HistoryBuffer and isinstance(name, str) and not name.startswith('_'):
        value = getattr(HistoryBuffer, name, None)
        if callable(value) and getattr(value, '__qualname__', '') == f'HistoryBuffer.{name}':
            return value
    raise pickle.UnpicklingError(
        f'weights_only load: getattr({getattr(obj, "__qualname__", type(obj).__name__)}, {name!r}) is not '
        'allowed; vitdense only allows getattr(HistoryBuffer, <statistics method>) (mmengine message_hub).')


# Exactly the globals that `torch.serialization.get_unsafe_globals_in_checkpoint` reports for a
# checkpoint written by mmengine 0.10.7's CheckpointHook (numpy 1.26, torch 2.13) after a short
# training run with validation:
#   - mmengine.logging.history_buffer.HistoryBuffer: `message_hub.log_scalars` values;
#   - builtins.getattr: HistoryBuffer pickles its `statistics_methods` as getattr(HistoryBuffer,
#     'min'|'max'|'current'|'mean'); allowed here only through `_history_buffer_getattr`;
#   - numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype: the float64 / int64
#     `_log_history` / `_count_history` arrays of each HistoryBuffer;
#   - numpy.core.multiarray.scalar: numpy scalars in `message_hub` / `meta`;
#   - numpy.dtypes.Float64DType, numpy.dtypes.Int64DType: the dtype objects of those arrays, which
#     the unpickler BUILDs at load time (the static scan cannot see them: found by loading).
# tests/test_checkpoint_safety.py re-derives this list from a fresh Runner checkpoint and fails if
# it changes. Other numpy dtypes (e.g. float32 values logged to the message hub) are not allowed:
# such a checkpoint is refused with an error naming `numpy.dtypes.Float32DType` and the fix.
MMENGINE_SAFE_GLOBALS: List[Union[Callable, Tuple[Callable, str]]] = [
    HistoryBuffer,
    (_history_buffer_getattr, 'builtins.getattr'),
    _multiarray._reconstruct,
    _multiarray.scalar,
    np.ndarray,
    np.dtype,
    np.dtype('float64').__class__,  # numpy.dtypes.Float64DType
    np.dtype('int64').__class__,  # numpy.dtypes.Int64DType
]

# Modules torch refuses even when allowlisted (torch/_weights_only_unpickler.py), and globals that
# exist to run code: a checkpoint naming any of them is not a weights file, whoever sent it.
_BLOCKED_MODULES = ('os', 'sys', 'posix', 'nt')
_CODE_RUNNING_MODULES = _BLOCKED_MODULES + ('subprocess', 'shutil', 'socket', 'pty', 'runpy', 'importlib',
                                            'ctypes', 'marshal', 'pickle', 'code', 'webbrowser',
                                            'multiprocessing')
_CODE_RUNNING_BUILTINS = ('exec', 'eval', 'compile', '__import__', 'open', 'breakpoint', 'input', 'setattr',
                          'delattr', 'globals', 'locals', 'vars')


def _runs_code(name: str) -> bool:
    head, _, rest = name.partition('.')
    return head in _CODE_RUNNING_MODULES or (head == 'builtins' and rest in _CODE_RUNNING_BUILTINS)


# how torch's WeightsUnpickler names what it refused
_REFUSED_PATTERNS = (re.compile(r'GLOBAL (\S+)'), re.compile(r"but got <class '([\w.]+)'>"),
                     re.compile(r'unrecognized function <(?:function|built-in function) ([\w.]+)'))
_TORCH_REASON = ('Unsupported global', 'Can only', 'Trying to', 'must be imported', 'is blocked',
                 'is not allowed', 'Unsupported operand')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint was refused by ``torch.load(weights_only=True)``."""


def _qualname(obj) -> str:
    return f'{obj.__module__}.{obj.__qualname__}'


def _resolve(name: str):
    """``'pkg.mod.Name'`` -> the object, importing the longest importable module prefix."""
    parts = name.split('.')
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ValueError(f'allow_globals: cannot import {name!r}; pass the class/function object itself '
                     "or its full dotted path, e.g. 'numpy.core.multiarray._reconstruct'.")


def allow_globals(globals_: Iterable[Union[Callable, str, Tuple[Callable, str]]]) -> List[str]:
    """Allow more globals for every ``weights_only`` load in this process.

    Only for files you trust. Each item is a class/function, its dotted path as printed by
    :class:`UnsafeCheckpointError` (e.g. ``'argparse.Namespace'``), or a ``(obj, 'dotted.path')``
    tuple as accepted by ``torch.serialization.add_safe_globals``. Returns the dotted names added.
    """
    if isinstance(globals_, (str, bytes)) or not isinstance(globals_, Iterable):
        raise TypeError('allow_globals expects a list, e.g. allow_globals(["argparse.Namespace"]), '
                        f'got {type(globals_).__name__}')
    resolved, names = [], []
    for item in globals_:
        if isinstance(item, str):
            name = item
        elif isinstance(item, tuple):
            name = item[1]
        else:
            name = _qualname_or_none(item)
            if name is None:
                raise TypeError(f'allow_globals: {item!r} has no __module__/__qualname__; pass a '
                                "(obj, 'dotted.path') tuple")
        if _runs_code(name):
            raise ValueError(f'{name} runs code: vitdense never unpickles it (torch never does for '
                             f'{", ".join(_BLOCKED_MODULES)}); a checkpoint that needs it is not a weights '
                             'file. Do not load it.')
        if isinstance(item, str):
            obj = _resolve(item)
            # keep the path the checkpoint uses when it differs from obj's own __module__
            item = obj if _qualname_or_none(obj) == name else (obj, name)
        resolved.append(item)
        names.append(name)
    torch.serialization.add_safe_globals(resolved)
    return names


def _qualname_or_none(obj) -> Optional[str]:
    try:
        return _qualname(obj)
    except AttributeError:
        return None


def _refused_globals(f, message: str) -> List[str]:
    """The globals a refused checkpoint needs: a static scan of the pickle when the file is a zip
    checkpoint (all of them), else the one named in torch's message."""
    found = []
    if isinstance(f, (str, os.PathLike)):
        try:
            found = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(f))
        except Exception:  # legacy (non-zip) pickle or unreadable: fall back to the message
            found = []
    for pattern in _REFUSED_PATTERNS:
        for name in pattern.findall(message):
            name = name.rstrip('.')
            if '.' not in name:  # torch prints builtins without their module
                name = f'builtins.{name}'
            if name not in found:
                found.append(name)
    return found


def _refusal_message(source: str, globals_: Sequence[str], torch_message: str,
                     local_path: Optional[str] = None) -> str:
    reason = ''
    for line in torch_message.splitlines():  # torch's WeightsUnpickler line is the informative one
        if any(key in line for key in _TORCH_REASON):
            reason = line.strip()
            break
    refused = ', '.join(globals_) if globals_ else '(see torch message below)'
    blocked = [g for g in globals_ if _runs_code(g)]
    lines = [
        f'Refused to load checkpoint {source!r} with torch.load(weights_only=True): it contains '
        f'Python objects outside the weights_only allowlist: {refused}.',
    ]
    if blocked:
        lines.append(
            f'{", ".join(blocked)} would run code while unpickling: this is not a weights file. Do NOT load '
            'it; get the checkpoint again from a source you trust.')
    else:
        fixes = []
        if globals_:
            fixes.append('allow those globals in the script that loads it, before loading: '
                         'from vitdense.utils.safe_load import allow_globals; '
                         f'allow_globals({list(globals_)!r})')
        if local_path:
            stem = osp.splitext(local_path)[0]
            fixes.append('re-save just its weights once and use the new file: python -c "from '
                         'vitdense.utils.safe_load import resave_weights_only; '
                         f"resave_weights_only('{local_path}', '{stem}_weights.pth')\"")
        lines.append('If (and only if) you trust this file:')
        lines += [f'  ({chr(ord("a") + i)}) {fix}' + (', or' if i < len(fixes) - 1 else '')
                  for i, fix in enumerate(fixes)]
    if reason:
        lines.append(f'torch: {reason}')
    return '\n'.join(lines)


def safe_torch_load(f, map_location=None, source: Optional[str] = None):
    """``torch.load(f, map_location, weights_only=True)`` with a clear error on refusal."""
    try:
        return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        local_path = os.fspath(f) if isinstance(f, (str, os.PathLike)) else None
        source = source or local_path or '<buffer>'
        message = _refusal_message(source, _refused_globals(f, str(err)), str(err), local_path)
        raise UnsafeCheckpointError(message) from err


def resave_weights_only(src: str, dst: str, key: str = 'state_dict') -> str:
    """Re-save a TRUSTED checkpoint so that it loads with ``weights_only=True``.

    Loads ``src`` with ``weights_only=False`` (this runs any code inside it: only for files you
    trust) and writes ``{'state_dict': ...}`` (tensors only) to ``dst``. Returns ``dst``.
    """
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    state_dict = ckpt.get(key, ckpt) if isinstance(ckpt, dict) else ckpt
    if hasattr(state_dict, 'state_dict') and callable(state_dict.state_dict):
        state_dict = state_dict.state_dict()
    if not isinstance(state_dict, dict):
        raise TypeError(f'{src}: expected a dict of tensors under {key!r}, got {type(state_dict).__name__}')
    weights = {k: v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if not weights:
        raise ValueError(f'{src}: no tensors found under {key!r}; nothing to re-save')
    torch.save({'state_dict': weights}, dst)
    return dst


def register_safe_globals() -> None:
    """Allowlist :data:`MMENGINE_SAFE_GLOBALS` and install the weights_only checkpoint loaders.

    Idempotent; ``import vitdense`` calls it.
    """
    from .checkpoint_loaders import install_checkpoint_loaders
    torch.serialization.add_safe_globals(list(MMENGINE_SAFE_GLOBALS))
    install_checkpoint_loaders()
