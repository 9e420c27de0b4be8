"""Launch helpers shared by ``tools/train.py`` and ``tools/test.py``.

* :func:`setup_cpu_distributed`: distributed runs (``--launcher pytorch|slurm|mpi``) on a machine
  without CUDA. mmengine's ``init_dist`` always calls ``torch.cuda.set_device`` and the OpenMMLab
  configs ask for ``nccl``; both fail there. This switches the backend to ``gloo``, initialises the
  process group itself (mmengine's ``Runner.setup_env`` skips ``init_dist`` when a group already
  exists) and makes the DDP wrapper accept a CPU module (``device_ids=None``).

Data-root checks live in :mod:`vitdense.utils.data_roots`.
"""
import datetime
import importlib
import os
import subprocess

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm

from vitdense.registry import MODEL_WRAPPERS

__all__ = ['setup_cpu_distributed', 'CPUDistributedDataParallel', 'prepare_scope', 'build_runner',
           'finish_distributed']

# the gloo backend works on CPU tensors; nccl (and the vendor backends) need a device
_CPU_BACKENDS = ('gloo', 'mpi')


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU modules (CPU fallback of :func:`setup_cpu_distributed`).

    torch's DDP needs ``device_ids=None`` for a module on CPU. SyncBN layers are turned back into
    BatchNorm: torch's and mmcv's SyncBatchNorm only synchronise CUDA tensors, so on CPU each process
    normalises with its own batch statistics.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        if device_ids is not None:
            raise ValueError(f'CPUDistributedDataParallel wraps a CPU module: device_ids must be None, got '
                             f'{device_ids}. Remove device_ids from model_wrapper_cfg.')
        n_sync = sum(1 for m in module.modules() if 'SyncBatchNorm' in type(m).__name__)
        if n_sync:
            module = revert_sync_batchnorm(module)
            print_log(f'CPU distributed fallback: {n_sync} SyncBatchNorm layer(s) reverted to BatchNorm '
                      '(SyncBN needs CUDA); batch statistics are per process.', logger='current')
        super().__init__(module=module, device_ids=None, **kwargs)


def _timeout(dist_cfg: dict) -> dict:
    kwargs = dict(dist_cfg)
    kwargs.pop('backend', None)
    timeout = kwargs.get('timeout')
    if timeout is not None and not isinstance(timeout, datetime.timedelta):
        try:
            kwargs['timeout'] = datetime.timedelta(seconds=timeout)
        except TypeError as err:
            raise TypeError('env_cfg.dist_cfg.timeout must be a number of seconds, e.g. '
                            f'dist_cfg=dict(backend="gloo", timeout=1800); got {timeout!r}') from err
    return kwargs


def _require_env(names, launcher, hint):
    missing = [n for n in names if n not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher {launcher} needs the environment variables {", ".join(missing)}, '
                           f'which are not set. {hint}')


def _init_process_group_cpu(launcher: str, backend: str, dist_cfg: dict) -> None:
    """What mmengine's ``_init_dist_{pytorch,slurm,mpi}`` do, minus ``torch.cuda.set_device``."""
    kwargs = _timeout(dist_cfg)
    init_backend = kwargs.pop('init_backend', 'torch')
    if init_backend != 'torch':
        raise RuntimeError(f'env_cfg.dist_cfg.init_backend={init_backend!r} is not supported by the CPU '
                           "fallback; remove it (or set init_backend='torch') to train on CPU.")
    if mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')  # as mmengine.dist.init_dist does
    if launcher == 'pytorch':
        _require_env(('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'), launcher,
                     'Start the job with torchrun (dist_train.sh / dist_test.sh use it), which sets them.')
        os.environ.setdefault('LOCAL_RANK', '0')
        kwargs.pop('port', None)
    elif launcher == 'slurm':
        _require_env(('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'), launcher,
                     'Start the job with srun (slurm_train.sh / slurm_test.sh use it), which sets them.')
        port = kwargs.pop('port', None)
        proc_id = int(os.environ['SLURM_PROCID'])
        if port is not None:
            os.environ['MASTER_PORT'] = str(port)
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            node_list = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
        os.environ['RANK'] = str(proc_id)
    elif launcher == 'mpi':
        _require_env(('OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_RANK', 'MASTER_ADDR'), launcher,
                     'Start the job with mpirun and export MASTER_ADDR (and MASTER_PORT, default 29500).')
        kwargs.pop('port', None)
        os.environ.setdefault('MASTER_PORT', '29500')
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['LOCAL_RANK'] = os.environ.get('OMPI_COMM_WORLD_LOCAL_RANK', '0')
    else:
        raise ValueError(f"Invalid launcher {launcher!r}: use one of 'none', 'pytorch', 'slurm', 'mpi'.")
    torch_dist.init_process_group(backend=backend, rank=int(os.environ['RANK']),
                                  world_size=int(os.environ['WORLD_SIZE']), **kwargs)


def _wrapper_cfg_for_cpu(cfg) -> dict:
    from mmengine.registry import MODEL_WRAPPERS as ROOT_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel
    wrapper_cfg = cfg.get('model_wrapper_cfg')
    if wrapper_cfg is None:
        return dict(type='vitdense.CPUDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                    find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_cfg = dict(wrapper_cfg)
    wtype = wrapper_cfg.get('type', 'MMDistributedDataParallel')
    wcls = ROOT_WRAPPERS.get(wtype) if isinstance(wtype, str) else wtype
    if wcls is MMDistributedDataParallel:
        wrapper_cfg['type'] = 'vitdense.CPUDistributedDataParallel'
    if isinstance(wcls, type) and issubclass(wcls, DistributedDataParallel):
        # the Runner only fills device_ids=[LOCAL_RANK] when the cfg leaves it unset
        wrapper_cfg['device_ids'] = None
    return wrapper_cfg


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """CPU fallback for distributed runs; returns True when it was applied.

    Does nothing when ``launcher == 'none'`` or CUDA is available. Otherwise it edits ``cfg`` in
    place (``env_cfg.dist_cfg.backend='gloo'``, a ``model_wrapper_cfg`` with ``device_ids=None``),
    initialises the default process group without ``torch.cuda.set_device`` and logs one line.
    Call it before ``Runner.from_cfg(cfg)``.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    asked = dist_cfg.get('backend', 'nccl')
    backend = asked if asked in _CPU_BACKENDS else 'gloo'
    dist_cfg['backend'] = backend
    env_cfg = dict(env_cfg)
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg
    if not torch_dist.is_initialized():
        # the Runner keeps the group made here: setup_env calls init_dist only `if not is_distributed()`
        _init_process_group_cpu(launcher, backend, dist_cfg)
    cfg.model_wrapper_cfg = _wrapper_cfg_for_cpu(cfg)
    print_log(f'No CUDA device: CPU distributed fallback for --launcher {launcher}: backend {backend!r} '
              f'(config asked for {asked!r}), world size {torch_dist.get_world_size()}, process group '
              'initialised without torch.cuda.set_device, model wrapped with device_ids=None.',
              logger='current')
    return True


def finish_distributed() -> None:
    """End a distributed run cleanly: barrier, then destroy the default process group.

    Call it after the Runner is done and no longer referenced (its DDP wrapper holds the group).
    Without it a rank can exit while another still uses the gloo group, or tear the group down at
    interpreter exit, which aborts that process ("terminate called without an active exception")
    and fails the whole torchrun job although training/testing finished.
    """
    import gc
    if torch_dist.is_available() and torch_dist.is_initialized():
        gc.collect()  # the Runner <-> loop cycle keeps the DDP wrapper (and its reducer) alive
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def prepare_scope(cfg) -> None:
    """Install the weights_only loaders and make the config's ``default_scope`` library current.

    mmengine's Runner sets the DefaultScope from ``cfg.default_scope`` and every library's
    registries import their modules lazily (registry ``locations``, see
    ``mmengine.registry.Registry.import_from_location``), so no ``register_all_modules`` call is
    needed. This imports ``<scope>.registry`` to fail early, with the fix, when the library is
    missing, and calls ``init_default_scope`` so that lookups made before the Runner exists resolve
    in that scope. ``vitdense`` itself must be imported (the tools do it) for ``vitdense.X`` types.
    """
    from mmengine.registry import init_default_scope

    from vitdense.utils.safe_load import register_safe_globals
    register_safe_globals()  # idempotent; `import vitdense` does it as well
    scope = cfg.get('default_scope', 'mmengine')
    if scope and scope != 'mmengine':
        try:
            importlib.import_module(f'{scope}.registry')
        except ImportError as err:
            raise ImportError(f"The config's default_scope is {scope!r} but `import {scope}.registry` failed "
                              f'({err}). Install it (setup_env.sh in the repository builds .venv with mmdet, '
                              'mmsegmentation and mmpretrain) or fix default_scope.') from err
        init_default_scope(scope)


def build_runner(cfg):
    """``Runner.from_cfg(cfg)``, or ``RUNNERS.build(cfg)`` when the config sets ``runner_type``.

    A neck/head whose ``in_channels`` disagree with a vitdense backbone fails here, naming both
    channel lists, instead of inside the first forward pass."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from vitdense.utils.model_check import check_model_channels
    check_model_channels(cfg.get('model'))
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
