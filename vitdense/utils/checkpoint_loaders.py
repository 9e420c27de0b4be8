"""mmengine ``CheckpointLoader`` schemes that load with ``torch.load(weights_only=True)``.

Local files, http(s), ``torchvision://``, ``open-mmlab://``, ``mmcls://``, ``s3://`` and ``pavi://``
all go through :func:`vitdense.utils.safe_load.safe_torch_load` (the allowlist and the refusal
message live there). :func:`install_checkpoint_loaders` registers them (``import vitdense`` does,
via ``register_safe_globals``).
"""
import io
import os
import os.path as osp

import torch

from .safe_load import safe_torch_load

__all__ = ['install_checkpoint_loaders']


# ----------------------------------------------------------------------------------------------
def _named(name: str):

    def deco(fn):
        # mmengine logs `Loads checkpoint by {__name__[10:]} backend`
        fn.__name__ = f'load_from_{name}'
        return fn

    return deco


@_named('local (weights_only)')
def _load_local(filename, map_location=None):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, map_location=map_location)


def _download_and_load(url, map_location=None, model_dir=None, progress=None):
    from torch.hub import get_dir, download_url_to_file
    from urllib.parse import urlparse
    if model_dir is None:
        model_dir = osp.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        download_url_to_file(url, cached, None, progress=os.isatty(0) if progress is None else progress)
    return safe_torch_load(cached, map_location=map_location, source=f'{url} (cached at {cached})')


@_named('http (weights_only)')
def _load_http(filename, map_location=None, model_dir=None, progress=None):
    # same behaviour as mmengine's load_from_http: rank 0 downloads first, the others wait
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    checkpoint = None
    if rank == 0:
        checkpoint = _download_and_load(filename, map_location, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = _download_and_load(filename, map_location, model_dir, progress)
    return checkpoint


@_named('torchvision (weights_only)')
def _load_torchvision(filename, map_location=None):
    from mmengine.runner import checkpoint as mmckpt
    model_name = filename[len('modelzoo://'):] if filename.startswith('modelzoo://') \
        else filename[len('torchvision://'):]
    return _load_http(mmckpt.get_torchvision_models()[model_name], map_location=map_location)


@_named('openmmlab (weights_only)')
def _load_openmmlab(filename, map_location=None):
    from mmengine.runner import checkpoint as mmckpt
    prefix = 'open-mmlab://' if filename.startswith('open-mmlab://') else 'openmmlab://'
    model_name = filename[len(prefix):]
    model_name = mmckpt.get_deprecated_model_names().get(model_name, model_name)
    model_url = mmckpt.get_external_models()[model_name]
    if model_url.startswith(('http://', 'https://')):
        return _load_http(model_url, map_location=map_location)
    local = osp.join(mmckpt._get_mmengine_home(), model_url)
    return _load_local(local, map_location=map_location)


@_named('mmcls (weights_only)')
def _load_mmcls(filename, map_location=None):
    from mmengine.runner import checkpoint as mmckpt
    checkpoint = _load_http(mmckpt.get_mmcls_models()[filename[len('mmcls://'):]], map_location=map_location)
    return mmckpt._process_mmcls_checkpoint(checkpoint)


@_named('ceph (weights_only)')
def _load_ceph(filename, map_location=None, backend='petrel'):
    from mmengine.fileio import get_file_backend
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return safe_torch_load(buffer, map_location=map_location, source=filename)


@_named('pavi (weights_only)')
def _load_pavi(filename, map_location=None):
    from tempfile import TemporaryDirectory
    try:
        from pavi import modelcloud
    except ImportError as err:
        raise ImportError('Please install pavi to load checkpoint from modelcloud.') from err
    model = modelcloud.get(filename[len('pavi://'):])
    with TemporaryDirectory() as tmp_dir:
        downloaded = osp.join(tmp_dir, model.name)
        model.download(downloaded)
        return safe_torch_load(downloaded, map_location=map_location, source=filename)


_SCHEMES = [
    ('', _load_local),
    (('http://', 'https://'), _load_http),
    (('modelzoo://', 'torchvision://'), _load_torchvision),
    (('open-mmlab://', 'openmmlab://'), _load_openmmlab),
    ('mmcls://', _load_mmcls),
    ([r'(\S+\:)?s3://', r'(\S+\:)?petrel://'], _load_ceph),
    ('pavi://', _load_pavi),
]


def install_checkpoint_loaders() -> None:
    """Replace mmengine's CheckpointLoader schemes by the ``weights_only=True`` ones above."""
    from mmengine.runner import CheckpointLoader
    for prefixes, loader in _SCHEMES:
        CheckpointLoader.register_scheme(prefixes=prefixes, loader=loader, force=True)
