"""Checkpoints load with torch.load(weights_only=True) (vitdense.utils.safe_load).

A real mmengine Runner (tests/configs/toy_cls.py: tiny mmpretrain classifier) writes the checkpoint
that the allowlist is derived from; malicious pickles are refused before they can run anything.
"""
import http.server
import os
import os.path as osp
import pickle
import re
import threading
import uuid
from functools import partial

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import CheckpointLoader, Runner
from mmengine.runner.checkpoint import _load_checkpoint

from vitdense.utils import checkpoint_loaders
from vitdense.utils.safe_load import (MMENGINE_SAFE_GLOBALS, UnsafeCheckpointError, allow_globals,
                                      register_safe_globals, resave_weights_only)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(REPO, 'tests', 'configs', 'toy_cls.py')

register_safe_globals()  # `import vitdense` does this too


def make_toy_cls(root):
    """<root>/{train,val}/{dark,bright}/*.png, 32x32 RGB."""
    import cv2
    rng = np.random.default_rng(0)
    for split, n in (('train', 4), ('val', 2)):
        for name, base in (('dark', 40), ('bright', 210)):
            d = osp.join(root, split, name)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                img = np.clip(base + rng.integers(-30, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
                assert cv2.imwrite(osp.join(d, f'{name}_{i}.png'), img)
    return root


def toy_cfg(root, work_dir, **overrides):
    cfg = Config.fromfile(CFG)
    for k in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[k].dataset.data_root = root
    cfg.work_dir = work_dir
    cfg.experiment_name = f'toy_cls_{uuid.uuid4().hex[:8]}'  # one per Runner (several per second here)
    cfg.merge_from_dict(overrides)
    return cfg


def _qualname(obj):
    """The name a pickle refers to an allowlist entry by (an entry may be an (obj, name) tuple)."""
    return obj[1] if isinstance(obj, tuple) else f'{obj.__module__}.{obj.__qualname__}'


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    return make_toy_cls(str(tmp_path_factory.mktemp('toy_cls')))


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory, toy_root):
    """A checkpoint written by a real Runner's CheckpointHook after 2 iterations and a validation."""
    work = str(tmp_path_factory.mktemp('runner'))
    cfg = toy_cfg(toy_root, work, **{'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2})
    Runner.from_cfg(cfg).train()
    path = osp.join(work, 'iter_2.pth')
    assert osp.isfile(path)
    return path


@pytest.fixture
def restore_safe_globals():
    saved = torch.serialization.get_safe_globals()
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(saved)


class _OsSystem:
    """Unpickling runs os.system(cmd) (pickled as GLOBAL posix.system)."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return os.system, (self.cmd, )


class _Exec:
    """Unpickling runs exec(code) (GLOBAL builtins.exec: not blocklisted by torch, just not allowed)."""

    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return exec, (self.code, )


def _malicious(path, marker, kind):
    payload = {
        'os': lambda: _OsSystem(f'touch {marker}'),
        'exec': lambda: _Exec(f'open({str(marker)!r}, "w").close()'),
    }[kind]()
    obj = {'meta': payload, 'state_dict': {'w': torch.zeros(2)}}
    torch.save(obj, path)
    return path


def _legacy_malicious(path, marker):
    # a plain pickle (the pre-1.6 torch.save format): torch.load also unpickles it
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': _OsSystem(f'touch {marker}')}, f, protocol=2)
    return path


def _needed_globals(path):
    """(static, dynamic): the globals `get_unsafe_globals_in_checkpoint` reports with only torch's
    defaults allowed, and the classes torch then still refuses while loading (BUILD targets such
    as numpy dtype classes, which the static scan cannot see), found by loading until it works."""
    import importlib
    torch.serialization.clear_safe_globals()
    static = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    by_name = {_qualname(g): g for g in MMENGINE_SAFE_GLOBALS}
    torch.serialization.add_safe_globals([by_name[n] if n in by_name else importlib.import_module(
        n.rsplit('.', 1)[0]).__dict__[n.rsplit('.', 1)[1]] for n in static])
    dynamic = set()
    for _ in range(20):
        try:
            torch.load(path, map_location='cpu', weights_only=True)
            return static, dynamic
        except pickle.UnpicklingError as err:
            m = re.search(r"but got <class '([\w.]+)'>", str(err))
            assert m, str(err)
            dynamic.add(m.group(1))
            mod, name = m.group(1).rsplit('.', 1)
            torch.serialization.add_safe_globals([getattr(importlib.import_module(mod), name)])
    raise AssertionError(f'still refused after allowing {static | dynamic}')


@pytest.mark.slow
def test_safe_globals_are_exactly_what_a_runner_checkpoint_needs(runner_ckpt, restore_safe_globals):
    ckpt_keys = set(torch.load(runner_ckpt, map_location='cpu', weights_only=True))
    assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'} <= ckpt_keys
    static, dynamic = _needed_globals(runner_ckpt)
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in static
    assert static | dynamic == {_qualname(g) for g in MMENGINE_SAFE_GLOBALS}, (static, dynamic)

    # with torch's defaults only, the runner checkpoint is refused; with the list it loads
    torch.serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(runner_ckpt, map_location='cpu', weights_only=True)
    register_safe_globals()
    assert torch.serialization.get_unsafe_globals_in_checkpoint(runner_ckpt) == []
    ckpt = torch.load(runner_ckpt, map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 2
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() > 0


def test_safe_globals_list_has_no_code_runners():
    names = {_qualname(g) for g in MMENGINE_SAFE_GLOBALS}
    assert not any(n.split('.')[0] in ('os', 'posix', 'sys', 'subprocess') for n in names), names
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in names
    # builtins.getattr is needed (HistoryBuffer pickles getattr(HistoryBuffer, 'min')) but only a
    # restricted stand-in is allowed, never the real getattr
    entry, = [g for g in MMENGINE_SAFE_GLOBALS if _qualname(g) == 'builtins.getattr']
    assert isinstance(entry, tuple) and entry[0] is not getattr
    assert [n for n in names if n.startswith('builtins.')] == ['builtins.getattr']
    assert not any(g is getattr for g in torch.serialization.get_safe_globals())


def test_restricted_getattr_refuses_other_attributes(tmp_path):
    from mmengine.logging import HistoryBuffer

    class _GetAttr:  # pickles as getattr(obj, name)

        def __init__(self, obj, name):
            self.obj, self.name = obj, name

        def __reduce__(self):
            return getattr, (self.obj, self.name)

    good, bad = str(tmp_path / 'good.pth'), str(tmp_path / 'bad.pth')
    torch.save({'m': _GetAttr(HistoryBuffer, 'mean')}, good)
    torch.save({'m': _GetAttr(HistoryBuffer, '__init__')}, bad)
    assert _load_checkpoint(good)['m'] is HistoryBuffer.mean
    with pytest.raises(UnsafeCheckpointError, match=r"getattr\(HistoryBuffer, '__init__'\) is not allowed"):
        _load_checkpoint(bad)


def test_all_mmengine_schemes_use_weights_only_loaders():
    register_safe_globals()
    for path, loader in [('/some/file.pth', checkpoint_loaders._load_local),
                         ('work_dirs/x.pth', checkpoint_loaders._load_local),
                         ('http://host/x.pth', checkpoint_loaders._load_http),
                         ('https://host/x.pth', checkpoint_loaders._load_http),
                         ('torchvision://resnet50', checkpoint_loaders._load_torchvision),
                         ('open-mmlab://resnet50_caffe', checkpoint_loaders._load_openmmlab),
                         ('mmcls://resnet50', checkpoint_loaders._load_mmcls),
                         ('s3://bucket/x.pth', checkpoint_loaders._load_ceph),
                         ('pavi://model', checkpoint_loaders._load_pavi)]:
        assert CheckpointLoader._get_checkpoint_loader(path) is loader, path


@pytest.mark.parametrize('kind', ['os', 'exec', 'legacy'])
def test_malicious_checkpoint_is_refused_with_clear_error(tmp_path, kind, monkeypatch):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / f'evil_{kind}.pth')
    if kind == 'legacy':
        _legacy_malicious(path, marker)
    else:
        _malicious(path, marker, kind)
    global_name = {'os': 'posix.system', 'legacy': 'posix.system', 'exec': 'builtins.exec'}[kind]

    with pytest.raises(UnsafeCheckpointError) as info:
        _load_checkpoint(path, map_location='cpu')
    msg = str(info.value)
    assert path in msg and global_name in msg
    assert 'Do NOT load it' in msg and 'allow_globals(' not in msg  # no "fix" offered for code runners
    assert isinstance(info.value, pickle.UnpicklingError)
    assert not marker.exists()

    # forcing torch's global default off does not reach our loader (it passes weights_only=True)
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')
    assert not marker.exists()

    # torch's own default was not disabled globally
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    assert not marker.exists()
    assert not any('system' in str(g) or 'exec' in str(g) for g in torch.serialization.get_safe_globals())


@pytest.mark.slow
@pytest.mark.parametrize('mode', ['load_from', 'resume'])
def test_runner_refuses_malicious_load_from_and_resume(tmp_path, toy_root, mode):
    marker = tmp_path / 'pwned'
    evil = _malicious(str(tmp_path / 'evil.pth'), marker, 'exec')
    cfg = toy_cfg(toy_root, str(tmp_path / 'work'), load_from=evil, resume=(mode == 'resume'))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        runner.load_or_resume()
    assert not marker.exists()


@pytest.mark.slow
def test_load_from_uses_weights_only_and_restores_weights(tmp_path, toy_root, runner_ckpt, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)

    cfg = toy_cfg(toy_root, str(tmp_path / 'work'), load_from=runner_ckpt, randomness=dict(seed=123))
    runner = Runner.from_cfg(cfg)
    saved = real_load(runner_ckpt, map_location='cpu', weights_only=True)['state_dict']
    before = runner.model.state_dict()
    assert any(not torch.equal(before[k], saved[k]) for k in saved if saved[k].is_floating_point())
    monkeypatch.setattr(torch, 'load', spy)
    runner.load_or_resume()
    assert calls == [True]
    after = runner.model.state_dict()
    assert set(after) == set(saved)
    for k, v in saved.items():
        assert torch.equal(after[k], v), k


def test_allow_globals_and_resave_for_trusted_files(tmp_path, restore_safe_globals):
    import argparse
    path = str(tmp_path / 'old.pth')
    torch.save({'state_dict': {'w': torch.ones(3)}, 'args': argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        _load_checkpoint(path)
    msg = str(info.value)
    assert "allow_globals(['argparse.Namespace'])" in msg and path in msg
    assert 'resave_weights_only(' in msg and 'trust' in msg and 'Do NOT' not in msg

    # (b) re-save the weights of the trusted file: the new file needs no extra global
    new = resave_weights_only(path, str(tmp_path / 'old_weights.pth'))
    assert torch.equal(_load_checkpoint(new)['state_dict']['w'], torch.ones(3))
    with pytest.raises(UnsafeCheckpointError):  # still refused: resaving did not allow anything
        _load_checkpoint(path)

    # (a) allow the named global
    assert allow_globals(['argparse.Namespace']) == ['argparse.Namespace']
    assert _load_checkpoint(path)['args'].lr == 0.1

    for code_runner in (['os.system'], ['builtins.exec'], [eval], ['subprocess.Popen']):
        with pytest.raises(ValueError, match='runs code'):
            allow_globals(code_runner)
    with pytest.raises(TypeError, match='expects a list'):
        allow_globals('argparse.Namespace')


@pytest.mark.slow
def test_http_checkpoints_load_with_weights_only(tmp_path, runner_ckpt, monkeypatch):
    serve = tmp_path / 'serve'
    serve.mkdir()
    marker = tmp_path / 'pwned'
    _malicious(str(serve / 'evil.pth'), marker, 'exec')
    with open(runner_ckpt, 'rb') as src, open(serve / 'good.pth', 'wb') as dst:
        dst.write(src.read())
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(serve))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f'http://127.0.0.1:{server.server_address[1]}'
        good = CheckpointLoader.load_checkpoint(f'{base}/good.pth', map_location='cpu')
        assert good['meta']['iter'] == 2
        with pytest.raises(UnsafeCheckpointError) as info:
            CheckpointLoader.load_checkpoint(f'{base}/evil.pth', map_location='cpu')
        assert f'{base}/evil.pth' in str(info.value)
    finally:
        server.shutdown()
        server.server_close()
    assert not marker.exists()
