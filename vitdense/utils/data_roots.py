"""Fail early, with the path and the fix, when a config's dataset root is missing.

:func:`check_data_roots` is what ``tools/train.py`` and ``tools/test.py`` call before building the
Runner. A missing ``data/toy_<name>/`` root gets the command that writes it
(``python -m vitdense.datasets.toy <name> --out <root>``), which works from an installed package.
"""
import os
import os.path as osp
import re
from typing import Iterator, List, Optional, Tuple

__all__ = ['check_data_roots', 'DATA_DOC', 'TOY_DATA_COMMAND']

DATA_DOC = 'docs/data_preparation.md'
# `{name}` is the toy set (vitdense.datasets.toy.TOY_SETS), `{root}` the missing root as the config gives it
TOY_DATA_COMMAND = 'python -m vitdense.datasets.toy {name} --out {root}'
_TOY_RE = re.compile(r'(?:^|.*/)data/(toy[^/]*)')


def _iter_dataset_cfgs(ds, where: str) -> Iterator[Tuple[dict, str]]:
    if ds is None:
        return
    if isinstance(ds, (list, tuple)):
        for i, d in enumerate(ds):
            yield from _iter_dataset_cfgs(d, f'{where}[{i}]')
        return
    if not hasattr(ds, 'get'):
        return
    yield ds, where
    if ds.get('dataset') is not None:
        yield from _iter_dataset_cfgs(ds['dataset'], f'{where}.dataset')
    if ds.get('datasets') is not None:
        yield from _iter_dataset_cfgs(ds['datasets'], f'{where}.datasets')


def _is_remote(path: str, ds) -> bool:
    backend_args = ds.get('backend_args') or {}
    if backend_args.get('backend') not in (None, 'local'):
        return True
    return '://' in path or bool(re.match(r'^\w+:', path)) and not re.match(r'^[A-Za-z]:[\\/]', path)


def _toy_hint(path: str) -> Optional[str]:
    """For a path under data/toy_<name>/, the command that writes that toy data set."""
    from vitdense.datasets.toy import TOY_SETS
    m = _TOY_RE.match(path.replace(os.sep, '/'))
    if not m:
        return None
    root, name = m.group(0), m.group(1)
    if name in TOY_SETS:
        command = TOY_DATA_COMMAND.format(name=TOY_SETS[name], root=root)
        return f'it is a toy data set: generate it with `{command}`'
    known = sorted(TOY_SETS)
    example = TOY_DATA_COMMAND.format(name=TOY_SETS[known[0]], root=f'data/{known[0]}')
    return (f'it looks like a toy data set but vitdense writes no toy set named {name} (toy sets: '
            f'{", ".join(known)}; e.g. `{example}`)')


def check_data_roots(cfg, loaders=('train_dataloader', 'val_dataloader', 'test_dataloader')) -> None:
    """Raise FileNotFoundError naming the missing path and the fix if a dataset root is missing.

    Walks ``cfg.<loader>.dataset`` for each loader, through wrappers (``dataset`` /
    ``datasets`` keys, e.g. RepeatDataset, ConcatDataset, ClassBalancedDataset). For every dataset
    cfg with a ``data_root``, checks ``data_root`` and, when ``ann_file`` is set and relative,
    ``data_root/ann_file``; without a ``data_root`` it checks a set ``ann_file``. Remote paths
    (``s3://``, ``backend_args`` with a non-local backend) are skipped. Relative paths are resolved
    from the current directory, as the datasets do.
    """
    missing: List[str] = []
    for loader in loaders:
        dl = cfg.get(loader)
        if not dl or not hasattr(dl, 'get'):
            continue
        for ds, where in _iter_dataset_cfgs(dl.get('dataset'), f'{loader}.dataset'):
            data_root = ds.get('data_root')
            ann_file = ds.get('ann_file')
            candidates = []
            if data_root:
                candidates.append((str(data_root), f'{where}.data_root'))
                if ann_file and not osp.isabs(str(ann_file)):
                    candidates.append((osp.join(str(data_root), str(ann_file)),
                                       f'{where}.data_root + ann_file'))
            if ann_file and (osp.isabs(str(ann_file)) or not data_root):
                candidates.append((str(ann_file), f'{where}.ann_file'))
            for path, key in candidates:
                if _is_remote(path, ds) or osp.exists(osp.expanduser(path)):
                    continue
                msg = f'{path} (from {key}) does not exist'
                hint = _toy_hint(path)
                if hint:
                    msg += f'; {hint}'
                missing.append(msg)
                break  # the ann_file under a missing root is missing too: report the root only
    if missing:
        lines = '\n  '.join(dict.fromkeys(missing))
        raise FileNotFoundError(
            f'Dataset path(s) not found (current directory {os.getcwd()}):\n  {lines}\n'
            f'See {DATA_DOC} for how to download and lay out each data set, or point the config at your '
            "copy, e.g. --cfg-options train_dataloader.dataset.data_root=/path/to/data/")
