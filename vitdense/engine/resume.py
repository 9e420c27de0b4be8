"""Exact resume: a resumed run continues as the uninterrupted run would have.

mmengine 0.10 resumes weights, optimizer, schedulers, message hub and the iteration counter, but
not the random state, and it reaches the data position by re-running the data pipeline for every
trained batch (``IterBasedTrainLoop.run`` calls ``next(dataloader_iterator)`` ``iter`` times). Both
break exactness: the RNG streams restart from the seed, and the replayed pipeline consumes them
again. :class:`ExactResumeHook` fixes that:

* Saving (``before_save_checkpoint``, reads only: a run that never resumes is unchanged bit for
  bit) adds ``checkpoint['resume_state']``: the global RNG states (python ``random``, numpy, torch
  CPU and, when CUDA is initialised, every CUDA device), and the data position of an
  ``IterBasedTrainLoop``: the epoch of its ``_InfiniteDataloaderIterator`` and the number of
  batches the current DataLoader iterator has yielded. Everything is stored as tensors and plain
  numbers, so the checkpoint still loads with ``weights_only=True``.
* Resuming (``after_load_checkpoint`` keeps the state; the work happens lazily): mmengine's
  fast-forward is turned into ``iter`` no-op steps, and on the first real batch the sampler is put
  on the saved epoch, a DataLoader over the *rest of that epoch* is made from the original's batch
  sampler (batches are skipped as index lists, nothing is loaded), and only then are the RNG
  states restored -- after the DataLoader iterator is made, because making one draws a base seed
  from torch's global generator, which the uninterrupted run did not do mid-epoch. When that epoch
  is used up the original loader continues exactly as in the uninterrupted run (``set_epoch``, a
  new iterator, its seed draw). An ``EpochBasedTrainLoop`` resumed from an end-of-epoch checkpoint
  only needs the RNG states; they are restored before the epoch's iterator is made.

The batch-level skip is what keeps batch samplers with state across an epoch exact (mmdet's
``AspectRatioBatchSampler`` fills aspect-ratio buckets, so the batches after ``p`` batches are not
the sampler's order after ``p * batch_size`` indices); an ``InfiniteSampler``'s index stream is
restarted and skipped the same way.

Limits (checked; a warning says when exactness is not possible):

* ``num_workers > 0``: the pipeline's random numbers come from the worker processes, which
  mmengine seeds once per worker (``seed + worker_id``); their state after the skipped batches is
  not reproduced, so augmentation differs after resume (the model's dropout / drop-path stream,
  the data order and everything in the main process are still exact).
* Validation right after the checkpoint: a ``ValLoop`` draws one number from torch's generator
  when it makes its DataLoader iterator. The checkpoint records whether a validation followed it
  (the loop's own ``val_interval`` rule) and the resumed run replays that one draw.
* Distributed: only rank 0 writes the checkpoint, so only single-process runs store RNG states;
  data positions are the same on every rank and are restored everywhere.

``tools/train.py`` adds the hook to every config (:func:`add_exact_resume_hook`); with mmdet's or
mmseg's own ``train.py`` add ``dict(type='vitdense.ExactResumeHook')`` to ``custom_hooks`` (with
``custom_imports=dict(imports=['vitdense'])``).
"""
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from torch.utils.data import DataLoader

from ..registry import HOOKS

__all__ = ['ExactResumeHook', 'add_exact_resume_hook', 'get_rng_states', 'set_rng_states']

_KEY = 'resume_state'
_VERSION = 1


def get_rng_states() -> dict:
    """The global RNG states as tensors and numbers (``weights_only``-loadable); reads only."""
    py_version, py_state, py_gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state()
    states = dict(
        python=dict(version=py_version, state=torch.tensor(py_state, dtype=torch.int64), gauss=py_gauss),
        numpy=dict(keys=torch.from_numpy(np_keys.astype(np.int64)), pos=int(np_pos),
                   has_gauss=int(np_has_gauss), cached=float(np_cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Inverse of :func:`get_rng_states` (tensors may come back on a device: mmengine's resume maps
    the checkpoint to the current device)."""
    py = states['python']
    random.setstate((int(py['version']), tuple(int(v) for v in py['state'].cpu().tolist()), py['gauss']))
    nps = states['numpy']
    np.random.set_state(('MT19937', nps['keys'].cpu().numpy().astype(np.uint32), int(nps['pos']),
                         int(nps['has_gauss']), float(nps['cached'])))
    torch.set_rng_state(states['torch'].cpu())
    cuda = states.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
        else:
            print_log(f'The checkpoint holds CUDA RNG states of {len(cuda)} devices, this machine has '
                      f'{torch.cuda.device_count()}: CUDA random numbers are not restored.',
                      logger='current', level=logging.WARNING)


def add_exact_resume_hook(cfg) -> None:
    """Append ``vitdense.ExactResumeHook`` to ``cfg.custom_hooks`` unless one is there."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(str(h.get('type', '')).split('.')[-1] == 'ExactResumeHook' for h in hooks):
        hooks.append(dict(type='vitdense.ExactResumeHook'))
    cfg.custom_hooks = hooks


class _SkipBatches:
    """The batches of ``batch_sampler`` after the first ``skip`` (index lists only, nothing loaded).
    ``sampler`` is exposed for mmengine's ``set_epoch`` look-ups."""

    def __init__(self, batch_sampler, skip: int):
        self.batch_sampler = batch_sampler
        self.skip = skip

    @property
    def sampler(self):
        return getattr(self.batch_sampler, 'sampler', None)

    def __iter__(self):
        it = iter(self.batch_sampler)
        for _ in range(self.skip):
            if next(it, None) is None:
                return
        yield from it

    def __len__(self):
        return max(len(self.batch_sampler) - self.skip, 0)


class _FastForward:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator`` during mmengine's fast-forward:
    ``steps`` no-op ``next`` calls, then ``on_first_batch`` puts the real iterator in place."""

    def __init__(self, inner, steps: int, on_first_batch):
        self.inner, self.steps, self.on_first_batch = inner, steps, on_first_batch

    def __iter__(self):
        return self

    def __next__(self):
        if self.steps > 0:
            self.steps -= 1
            return None
        return self.on_first_batch()


def _set_epoch(loader, epoch: int) -> None:
    # the look-ups of mmengine's _InfiniteDataloaderIterator / DistSamplerSeedHook
    if hasattr(loader, 'sampler') and hasattr(loader.sampler, 'set_epoch'):
        loader.sampler.set_epoch(epoch)
    elif hasattr(loader, 'batch_sampler') and hasattr(getattr(loader.batch_sampler, 'sampler', None),
                                                      'set_epoch'):
        loader.batch_sampler.sampler.set_epoch(epoch)


def _index_sampler_of(batch_sampler):
    return getattr(batch_sampler, 'sampler', None)


def _restart_index_stream(batch_sampler) -> None:
    """Undo what an abandoned iterator left in sampler state (an InfiniteSampler's shared index
    stream, mmdet's aspect-ratio buckets)."""
    sampler = _index_sampler_of(batch_sampler)
    if sampler is not None and hasattr(sampler, '_indices_of_rank') and hasattr(sampler, 'indices'):
        sampler.indices = sampler._indices_of_rank()
    buckets = getattr(batch_sampler, '_aspect_ratio_buckets', None)
    if isinstance(buckets, list):
        batch_sampler._aspect_ratio_buckets = [[] for _ in buckets]


def _rest_of_epoch_loader(loader: DataLoader, skip: int) -> DataLoader:
    if loader.batch_sampler is None:
        raise RuntimeError('ExactResumeHook needs a batched train DataLoader (batch_size or batch_sampler '
                           'set); remove vitdense.ExactResumeHook from custom_hooks for this config.')
    kwargs = dict(num_workers=loader.num_workers, collate_fn=loader.collate_fn, pin_memory=loader.pin_memory,
                  timeout=loader.timeout, worker_init_fn=loader.worker_init_fn, generator=loader.generator)
    if loader.num_workers > 0:
        kwargs.update(multiprocessing_context=loader.multiprocessing_context,
                      prefetch_factor=loader.prefetch_factor)
    return DataLoader(loader.dataset, batch_sampler=_SkipBatches(loader.batch_sampler, skip), **kwargs)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Saves the RNG states and the data position in every checkpoint and restores them on resume
    (see the module docstring). No arguments; a run that does not resume is unchanged."""

    priority = 'VERY_LOW'

    def __init__(self):
        self._loaded: Optional[dict] = None
        self._rest = None  # (iterator over the rest of the resumed epoch, batches skipped before it)
        self._warned_workers = False

    # ---------------------------------------------------------------- saving
    def _data_position(self, runner) -> Optional[dict]:
        loop = runner.train_loop
        if not isinstance(loop, IterBasedTrainLoop):
            return None
        it = loop.dataloader_iterator
        if isinstance(it, _FastForward):  # a checkpoint saved before the first resumed batch
            return dict(self._loaded['data']) if self._loaded and self._loaded.get('data') else None
        current = getattr(it, '_iterator', None)
        yielded = getattr(current, '_num_yielded', None)
        epoch = getattr(it, '_epoch', None)
        if yielded is None or epoch is None:
            return None
        if self._rest is not None and current is self._rest[0]:
            yielded += self._rest[1]
        return dict(epoch=int(epoch), batches=int(yielded))

    def _val_follows(self, runner, iteration: int) -> bool:
        # the loops' own rule for a validation right after this point
        loop = runner.train_loop
        if runner.val_loop is None:
            return False
        if isinstance(loop, IterBasedTrainLoop):
            return iteration >= loop.val_begin and (iteration % loop.val_interval == 0
                                                    or iteration == loop.max_iters)
        if isinstance(loop, EpochBasedTrainLoop):
            epoch = loop.epoch + 1  # saved in after_train_epoch, before the loop's epoch += 1
            return epoch >= loop.val_begin and (epoch % loop.val_interval == 0 or epoch == loop.max_epochs)
        return False

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        iteration = int(checkpoint.get('meta', {}).get('iter', runner.iter))
        state = dict(version=_VERSION, iter=iteration, data=self._data_position(runner),
                     val_follows=self._val_follows(runner, iteration), world_size=get_world_size())
        if get_world_size() == 1:
            state['rng'] = get_rng_states()
        checkpoint[_KEY] = state

    # ---------------------------------------------------------------- resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(_KEY)

    def _usable(self, runner) -> bool:
        state = self._loaded
        if state is None or not runner._resume:  # load_from without resume: weights only
            return False
        if state.get('iter') != runner.train_loop.iter:
            print_log(f'ExactResumeHook: the resume state is of iteration {state.get("iter")}, the run '
                      f'resumes at {runner.train_loop.iter}; random state and data position not restored.',
                      logger='current', level=logging.WARNING)
            return False
        return True

    def _restore_rng(self, runner) -> None:
        state = self._loaded
        if state.get('rng') is None or get_world_size() != 1:
            print_log('ExactResumeHook: no single-process RNG state to restore (distributed run); the '
                      'random streams restart from the seed.', logger='current', level=logging.WARNING)
            return
        set_rng_states(state['rng'])
        if state.get('val_follows'):
            # the validation that ran after this checkpoint made a DataLoader iterator: one base-seed draw
            val_loader = getattr(runner.val_loop, 'dataloader', None)
            torch.empty((), dtype=torch.int64).random_(generator=getattr(val_loader, 'generator', None))
        loader = runner.train_loop.dataloader
        if getattr(loader, 'num_workers', 0) > 0 and not self._warned_workers:
            self._warned_workers = True
            print_log('ExactResumeHook: num_workers > 0: the data pipeline runs in worker processes whose '
                      'random state is not restored; augmentation after resume differs from the '
                      'uninterrupted run (data order and model randomness are exact).',
                      logger='current', level=logging.WARNING)

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, IterBasedTrainLoop) or loop.iter == 0 or not self._usable(runner):
            return
        data = self._loaded.get('data')
        if data is None:
            print_log('ExactResumeHook: the checkpoint has no data position; mmengine replays the data '
                      'pipeline to reach it.', logger='current', level=logging.WARNING)
            self._restore_rng(runner)
            return
        inner = loop.dataloader_iterator

        def first_batch():
            # after the before_train_epoch hooks: DistSamplerSeedHook has set epoch 0 by now
            loader = inner._dataloader
            _set_epoch(loader, data['epoch'])
            _restart_index_stream(loader.batch_sampler)
            rest = iter(_rest_of_epoch_loader(loader, data['batches']))
            self._rest = (rest, data['batches'])
            inner._iterator = rest
            inner._epoch = data['epoch']
            loop.dataloader_iterator = inner
            self._restore_rng(runner)  # after the iterator's base-seed draw
            print_log(f'ExactResumeHook: data position epoch {data["epoch"]}, batch {data["batches"]} '
                      'restored without loading the skipped batches; random states restored.',
                      logger='current')
            return next(inner)

        loop.dataloader_iterator = _FastForward(inner, loop.iter, first_batch)

    def before_train_epoch(self, runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, EpochBasedTrainLoop) or self._loaded is None or not self._usable(runner):
            return
        state, self._loaded = self._loaded, None  # only the first epoch after resume
        if loop.iter != loop.epoch * len(loop.dataloader):
            print_log('ExactResumeHook: the checkpoint was saved inside an epoch; mmengine restarts that '
                      'epoch, so the run does not continue exactly.', logger='current', level=logging.WARNING)
        self._loaded = state
        self._restore_rng(runner)
        self._loaded = None
