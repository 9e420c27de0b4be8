import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def pytest_configure(config):
    """Under pytest-xdist (tools/run_tests.sh), each worker's torch gets its share of the cores."""
    workers = os.environ.get('PYTEST_XDIST_WORKER_COUNT')
    if workers:
        import torch
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // int(workers)))


@pytest.fixture
def repo_root():
    return ROOT


def pytest_runtest_makereport(item, call):
    """After a test's body, delete the checkpoints over 20 MB it left in its tmp_path: toy Mask
    R-CNN runs write ~1 GB each (weights + optimizer state, twice), and keeping them filled CI's
    disk (24 GB per run). The folders stay: mmengine's global visualizer may still point into one,
    so removing whole tmp dirs (tmp_path_retention_policy=failed) broke the worker's next Runner."""
    if call.when != 'call':
        return
    root = getattr(item, 'funcargs', {}).get('tmp_path')
    if root is None:
        return
    for path in root.rglob('*.pth'):
        try:
            if path.is_file() and path.stat().st_size > 20 * 2 ** 20:
                path.unlink()
        except OSError:
            pass


@pytest.fixture(autouse=True)
def _seed_torch():
    """Every test starts from the same RNG state, whatever ran before it (order-independent)."""
    import torch
    torch.manual_seed(0)
    yield


def _drop_new_scopes():
    from mmengine.registry import DefaultScope
    before = list(DefaultScope._instance_dict)
    yield
    for name in list(DefaultScope._instance_dict):
        if name not in before:
            del DefaultScope._instance_dict[name]


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """A Runner leaves its DefaultScope current after the test; drop the scopes a test created so
    that an unscoped registry lookup in a later test means the same thing in any test order."""
    yield from _drop_new_scopes()


@pytest.fixture(autouse=True, scope='module')
def _restore_default_scope_after_module():
    """The same for module-scoped fixtures (a Runner built once per file): they are set up before
    any test's own cleanup starts, so without this their scope outlives the file (under
    pytest-xdist the next file of that worker then looked names up in mmpretrain's registry)."""
    yield from _drop_new_scopes()
