"""The package works installed: nothing in vitdense/ points into tools/ or the repository root, the
toy data have a `python -m` command, and every registry's `locations` cover what registers in it."""
import ast
import importlib
import os
import os.path as osp
import subprocess
import sys

import pytest

import vitdense
import vitdense.registry as vreg

PKG = osp.dirname(osp.abspath(vitdense.__file__))


def _modules():
    for root, _, files in os.walk(PKG):
        for f in sorted(files):
            if f.endswith('.py'):
                yield osp.join(root, f)


def _docstring_nodes(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                yield first.value


def test_no_module_points_into_tools_or_computes_a_repo_root():
    bad = []
    for path in _modules():
        tree = ast.parse(open(path).read(), path)
        docs = {id(n) for n in _docstring_nodes(tree)}
        rel = osp.relpath(path, PKG)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == '__file__':
                bad.append(f'{rel}:{node.lineno}: uses __file__ (a path relative to the package)')
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                if 'tools/' in node.value or node.value == 'tools':
                    bad.append(f'{rel}:{node.lineno}: string names tools/: {node.value[:60]!r}')
            inner = node.args[0] if isinstance(node, ast.Call) and node.args else None
            func = getattr(node, 'func', None)
            if (getattr(func, 'attr', None) == 'dirname' and isinstance(inner, ast.Call)
                    and getattr(inner.func, 'attr', None) == 'dirname'):
                bad.append(f'{rel}:{node.lineno}: dirname(dirname(...)): computes a parent folder')
    assert not bad, '\n'.join(bad)


def test_toy_data_cli_writes_into_tmp_dir(tmp_path):
    out = tmp_path / 'toy'
    env = dict(os.environ, PYTHONPATH=osp.dirname(PKG) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, '-m', 'vitdense.datasets.toy', 'coco', '--out', str(out),
                           '--num-train', '2', '--num-val', '1', '--size', '64', '80'],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'RuntimeWarning' not in proc.stderr, proc.stderr[-3000:]
    assert len(os.listdir(out / 'train')) == 2 and len(os.listdir(out / 'val')) == 1
    assert (out / 'annotations' / 'instances_train.json').is_file() and (out / 'toy_dataset.json').is_file()


def test_missing_toy_root_hint_names_the_package_command(tmp_path, monkeypatch):
    from mmengine.config import Config

    from vitdense.datasets.toy import TOY_SETS
    from vitdense.utils.data_roots import check_data_roots
    monkeypatch.chdir(tmp_path)
    for folder, command in TOY_SETS.items():
        cfg = Config(dict(train_dataloader=dict(dataset=dict(type='X', data_root=f'data/{folder}/'))))
        hint = f'python -m vitdense.datasets.toy {command} --out data/{folder}'
        with pytest.raises(FileNotFoundError, match=hint):
            check_data_roots(cfg)


_REGISTRIES = sorted(n for n, v in vars(vreg).items()
                     if isinstance(v, vreg.Registry) and v.scope == 'vitdense')


@pytest.mark.parametrize('name', _REGISTRIES)
def test_registry_locations_cover_every_registered_class(name):
    registry = getattr(vreg, name)
    for loc in registry._locations:
        importlib.import_module(loc)
    for mod in ('vitdense', 'vitdense.utils.launch'):  # everything that registers anywhere
        importlib.import_module(mod)
    def under(cls, loc):
        return cls.__module__ == loc or cls.__module__.startswith(loc + '.')

    outside = {k: v.__module__ for k, v in registry.module_dict.items()
               if not any(under(v, loc) for loc in registry._locations)}
    assert not outside, f'{name}: registered outside its locations {registry._locations}: {outside}'
    if registry.module_dict:  # no stale location in a registry that holds classes
        for loc in registry._locations:
            assert any(under(v, loc) for v in registry.module_dict.values()), f'{name}: nothing from {loc}'
