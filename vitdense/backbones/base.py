"""What every family's backbone shares: arch-zoo lookup, output-index checks, freezing, and
loading official checkpoints through the family's converter."""
from typing import Callable, Dict, Iterable, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger, print_log
from mmengine.model import BaseModule


def resolve_arch(arch: Union[str, dict], arch_zoo: Dict[str, dict], essential_keys: Iterable[str],
                 family: str) -> dict:
    """Return the settings of ``arch``: a zoo name (case-insensitive) or a dict with all essential keys."""
    if isinstance(arch, str):
        key = arch.lower()
        if key not in arch_zoo:
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


class BaseBackbone(BaseModule):
    """Base of the vitdense backbones.

    Sub-classes set ``converter`` (the family's ``convert_<family>_checkpoint``) and implement
    ``_freeze_stages``. ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` accepts the official
    release, our own format and mmdet/mmseg/mmpretrain/timm-format checkpoints where the converter
    knows them; missing and unexpected keys are reported, and a checkpoint that matches nothing
    is an error.
    """

    converter: Optional[Callable[[Dict[str, torch.Tensor]], Dict[str, torch.Tensor]]] = None

    @property
    def out_channels(self) -> list:
        """Channels of each returned map; families set ``num_features`` and ``out_indices``."""
        return [self.num_features[i] for i in self.out_indices]

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

    def load_pretrained(self, checkpoint: str, prefix: Optional[str] = None, map_location='cpu'):
        logger = MMLogger.get_current_instance()
        ckpt = self._read_checkpoint(checkpoint, map_location)
        if prefix:
            sd = strip_prefixes(ckpt) if 'state_dict' in ckpt or 'model' in ckpt else ckpt
            p = prefix if prefix.endswith('.') else prefix + '.'
            sd = {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
            if not sd:
                raise RuntimeError(f'no key of {checkpoint} starts with prefix {prefix!r}')
        else:
            sd = strip_prefixes(ckpt)
        if type(self).converter is not None:
            sd = type(self).converter(sd)
        own = self.state_dict()
        sd = self._adapt_shapes(sd, own)
        result = self.load_state_dict(sd, strict=False)
        matched = len(set(sd) & set(own))
        if matched == 0:
            raise RuntimeError(f'{type(self).__name__}: no parameter of {checkpoint} matches this model; '
                               f'is it a checkpoint of another family? first keys: {list(sd)[:5]}')
        print_log(f'{type(self).__name__}: loaded {matched}/{len(own)} tensors from {checkpoint}',
                  logger=logger)
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
                raise RuntimeError(f'{type(self).__name__}: checkpoint tensor {k} has shape {tuple(v.shape)}, '
                                   f'the model expects {tuple(own[k].shape)}; check arch and window settings')
        return sd

    def _freeze_stages(self):
        raise NotImplementedError

    def train(self, mode: bool = True):
        super().train(mode)
        if mode:
            self._freeze_stages()
        return self
