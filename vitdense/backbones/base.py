"""What every family's backbone shares: arch-zoo lookup, output-index checks, freezing, and
loading official checkpoints through the family's converter."""
import sys
from abc import abstractmethod
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.model import BaseModule


def resolve_arch(arch: Union[str, dict], arch_zoo: Dict[str, dict], essential_keys: Iterable[str],
                 family: str) -> dict:
    """Return the settings of ``arch``: a zoo name (case-insensitive) or a dict with all essential keys."""
    if isinstance(arch, str):
        # One spelling rule for every family: case and '-' / '_' do not matter, so mmpretrain's
        # 'deit-tiny' and timm's 'deit_tiny' (or 'b2_li' / 'b2-li') name the same entry.
        canonical = {name.lower().replace('-', '_'): name for name in arch_zoo}
        key = canonical.get(arch.lower().replace('-', '_'))
        if key is None:
            raise ValueError(f'{family}: unknown arch {arch!r}; valid names are {sorted(arch_zoo)} '
                             f'or a dict with the keys {sorted(essential_keys)}')
        return dict(arch_zoo[key])
    if isinstance(arch, dict):
        missing = set(essential_keys) - set(arch)
        if missing:
            raise ValueError(f'{family}: a custom arch dict needs the keys {sorted(essential_keys)}; '
                             f'missing {sorted(missing)}')
        return dict(arch)
    raise TypeError(f'{family}: arch must be a name from {sorted(arch_zoo)} or a dict, got {type(arch)}')


def check_out_indices(out_indices: Union[int, Sequence[int]], num_stages: int, family: str) -> tuple:
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    out = []
    for i in out_indices:
        j = i + num_stages if i < 0 else i
        if not 0 <= j < num_stages:
            raise ValueError(f'{family}: out_indices {tuple(out_indices)} must lie in [0, {num_stages}) '
                             f'(or negative from the end)')
        out.append(j)
    return tuple(sorted(set(out)))


def accepts_peer_args(translate: Callable[[dict], dict], peer: str):
    """Let ``__init__`` also take a peer library's constructor arguments (drop-in for its configs).

    ``translate(foreign)`` gets the keyword arguments that are not in our signature, returns our
    equivalents, and pops every name it understood; what it leaves raises a TypeError listing ours
    and ``translate.accepts``. Values we cannot honour raise a
    ValueError in ``translate``, never silently dropped. ``peer`` names the library in messages.
    """
    import functools
    import inspect

    def wrap(init):
        own = [n for n in inspect.signature(init).parameters if n != 'self']

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            foreign = {k: kwargs.pop(k) for k in list(kwargs) if k not in own}
            if foreign:
                given = dict(foreign)
                ours = translate(foreign)
                if foreign:
                    raise TypeError(
                        f'{type(self).__name__}: unexpected argument(s) {sorted(foreign)}; accepted are '
                        f'{own} and, as in {peer}, {sorted(getattr(translate, "accepts", ()))}')
                clash = sorted(k for k in set(ours) & set(kwargs) if ours[k] != kwargs[k])
                if clash:
                    raise TypeError(f'{type(self).__name__}: {clash} given twice, with different values: '
                                    f'directly and through {peer} argument(s) {sorted(given)}')
                kwargs.update(ours)
            init(self, *args, **kwargs)
        return __init__
    return wrap


def require_peer_values(a: dict, family: str, **expected) -> None:
    """Pop peer arguments that select structure we build one way only; a value other than the
    one we build (lists and tuples compare equal) is refused, naming the value we build."""
    for key, want in expected.items():
        if key in a:
            got = a.pop(key)
            norm = tuple(got) if isinstance(got, (list, tuple)) else got
            if isinstance(want, dict) and isinstance(got, dict):
                norm = {k: got[k] for k in want if k in got}
            if norm != want:
                raise ValueError(f'{family}: {key}={got!r} is not built here; only {key}={want!r}')


def freeze(module: Optional[nn.Module]) -> None:
    if module is None:
        return
    module.eval()
    for p in module.parameters():
        p.requires_grad = False


def strip_prefixes(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Unwrap a checkpoint to its weights: ``state_dict``/``model``/``module`` containers and
    ``module.``/``backbone.`` key prefixes (dense-prediction checkpoints keep only the backbone)."""
    for container in ('state_dict', 'model', 'module', 'model_ema'):
        if isinstance(state_dict.get(container), dict) and not isinstance(state_dict[container], torch.Tensor):
            state_dict = state_dict[container]
            break
    if any(k.startswith('module.') for k in state_dict):
        state_dict = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state_dict.items()}
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = {k[len('backbone.'):]: v for k, v in state_dict.items() if k.startswith('backbone.')}
    return state_dict


# a checkpoint whose tensors, matched by name, hold less of the model's weights than this is refused
MIN_COVERED = 0.01


class PretrainedLoaderMixin:
    """``init_cfg=dict(type='Pretrained', checkpoint=PATH[, prefix=..., map_location=...])`` through
    the class's ``converter``: read (``weights_only`` kept on), unwrap, convert, adapt shapes, load
    non-strictly, report missing/unexpected keys, and refuse a checkpoint that matches nothing.

    Shared by the dense backbones (``BaseBackbone``) and models that are not backbones (GRL), so that
    every checkpoint of the package goes one route. The class body declares ``converter``: a function
    ``state_dict -> state_dict`` (``staticmethod(fn)``) or, when the function is defined further down
    the same module, its name as a string, looked up in the class's module on first use.
    """

    converter: Union[None, str, Callable[[Dict[str, torch.Tensor]], Dict[str, torch.Tensor]]] = None

    @classmethod
    def family(cls) -> str:
        """The family name used in messages: the class name."""
        return cls.__name__

    @classmethod
    def get_converter(cls) -> Optional[Callable]:
        conv = cls.converter
        if isinstance(conv, str):
            fn = getattr(sys.modules[cls.__module__], conv, None)
            if not callable(fn):
                raise TypeError(f'{cls.__name__}.converter names {conv!r}, which is not a function of '
                                f'{cls.__module__}; declare converter = staticmethod(fn) or a valid name')
            return fn
        return conv

    def init_weights(self):
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.load_pretrained(cfg['checkpoint'], prefix=cfg.get('prefix'),
                                 map_location=cfg.get('map_location', 'cpu'))
            self._is_init = True
            return
        super().init_weights()

    def _read_checkpoint(self, checkpoint: str, map_location='cpu') -> dict:
        """The checkpoint's contents (mmengine's loaders: local, http(s), open-mmlab://, ...,
        ``weights_only`` kept on); families with other file formats override this."""
        from mmengine.runner.checkpoint import CheckpointLoader
        return CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location,
                                                logger=MMLogger.get_current_instance())

    def _unwrap(self, ckpt: dict) -> Dict[str, torch.Tensor]:
        """Checkpoint contents -> the weights the converter takes."""
        return strip_prefixes(ckpt)

    def load_pretrained(self, checkpoint: str, prefix: Optional[str] = None, map_location='cpu'):
        logger = MMLogger.get_current_instance()
        name = self.family()
        ckpt = self._read_checkpoint(checkpoint, map_location)
        if prefix:
            sd = strip_prefixes(ckpt) if 'state_dict' in ckpt or 'model' in ckpt else ckpt
            p = prefix if prefix.endswith('.') else prefix + '.'
            sd = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
            if not sd:
                raise RuntimeError(f'{name}: no key of {checkpoint} starts with prefix {prefix!r}')
        else:
            sd = self._unwrap(ckpt)
        converter = type(self).get_converter()
        if converter is not None:
            sd = converter(sd)
        own = self.state_dict()
        # by name, before any resizing: a foreign family often shares only output-norm names
        shared = set(sd) & set(own)
        total = sum(v.numel() for v in own.values()) or 1
        covered = sum(own[k].numel() for k in shared) / total
        if covered < MIN_COVERED:
            raise RuntimeError(f'{name}: no parameter of {checkpoint} matches this model (the '
                               f'{len(shared)} tensors sharing a name hold {covered:.2%} of its weights); '
                               f'is it a checkpoint of another family? first keys: {list(sd)[:5]}')
        sd = self._adapt_shapes(sd, own)
        matched = len(set(sd) & set(own))
        result = self.load_state_dict(sd, strict=False)
        print_log(f'{name}: loaded {matched}/{len(own)} tensors from {checkpoint}', logger=logger)
        if result.missing_keys:
            print_log(f'missing keys (left at their initial values): {result.missing_keys}', logger=logger,
                      level=30)
        if result.unexpected_keys:
            print_log(f'unexpected keys (not used): {result.unexpected_keys}', logger=logger, level=30)
        return result

    def _adapt_shapes(self, sd: Dict[str, torch.Tensor], own: Dict[str, torch.Tensor]):
        """Hook for families to resize position tables/embeddings of another input or window size."""
        for k, v in sd.items():
            if k in own and own[k].shape != v.shape:
                raise RuntimeError(f'{self.family()}: checkpoint tensor {k} has shape {tuple(v.shape)}, '
                                   f'the model expects {tuple(own[k].shape)}; check arch and window settings')
        return sd


class BaseBackbone(PretrainedLoaderMixin, BaseModule):
    """Base of the vitdense dense backbones; the contract every family fulfils
    (docs/adding_a_family.md, checked for every registered backbone by tests/test_backbone_contract.py):

    - the class body declares ``converter`` (see ``PretrainedLoaderMixin``) and ``arch_zoo``;
    - ``__init__`` sets ``num_features`` (channels of every stage / block that ``out_indices`` can
      pick) and ``out_indices``; ``stage_strides`` (class attribute, or property where it depends on
      arguments) gives each stage's reduction, (4, 8, 16, 32) by default;
    - ``forward`` returns one map per ``out_indices`` entry, of ``feature_info``'s channels and of
      size ``ceil(H / reduction) x ceil(W / reduction)`` for any input size;
    - ``_freeze_stages`` (abstract) freezes what ``frozen_stages`` documents and keeps it in eval
      mode under ``train()``; ``with_cp`` changes memory, never outputs or gradients.

    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` accepts the official release, our own
    format and mmdet/mmseg/mmpretrain/timm-format checkpoints where the converter knows them.
    """

    stage_strides: Sequence[int] = (4, 8, 16, 32)
    # ``vitdense.get_model`` names are ``<prefix>_<arch>``; read from the class's own body only (a
    # subclass is another family): unset, the lower-case class name
    model_name_prefix: Optional[str] = None

    @property
    def feature_info(self) -> List[dict]:
        """One dict per returned map, in forward's order (timm's spirit): ``num_chs`` (channels),
        ``reduction`` (stride w.r.t. the input) and ``index`` (the stage / block it comes from)."""
        strides = list(self.stage_strides)
        if len(strides) != len(self.num_features):
            raise RuntimeError(f'{self.family()}: stage_strides {strides} and num_features '
                               f'{list(self.num_features)} must have one entry per stage')
        return [dict(num_chs=int(self.num_features[i]), reduction=int(strides[i]), index=int(i))
                for i in self.out_indices]

    @property
    def out_channels(self) -> list:
        """Channels of each returned map (``feature_info``'s ``num_chs``)."""
        return [f['num_chs'] for f in self.feature_info]

    @property
    def out_strides(self) -> list:
        return [f['reduction'] for f in self.feature_info]

    @abstractmethod
    def _freeze_stages(self):
        """Freeze (``requires_grad=False`` and eval mode) what ``frozen_stages`` documents."""

    def train(self, mode: bool = True):
        super().train(mode)
        if mode:
            self._freeze_stages()
        return self

    def _refuse_other_form(self, checkpoint, result, train_key: str, fused_key: str):
        """For families with a fused (deploy) form: a checkpoint of the other form shares few names
        with the model; ``train_key`` / ``fused_key`` is a parameter only the training / fused form
        has. Refused naming the ``deploy`` value that loads it."""
        if {train_key, fused_key} & set(result.unexpected_keys):
            raise RuntimeError(f'{self.family()}: {checkpoint} is in the '
                               f'{"training" if self.deploy else "fused (deploy)"} form and this model in '
                               f'the {"fused" if self.deploy else "training"} form; build it with '
                               f'deploy={not self.deploy} (or load the training form, then switch_to_deploy())')
        return result
