"""Build-time checks of a model config whose backbone is one of ours.

A neck or head whose ``in_channels`` disagree with the backbone's outputs otherwise fails deep in
the first forward pass with a matmul/conv shape error; here it fails while the model is built,
naming both channel lists.
"""
import copy
from typing import List, Optional

from mmengine.config import ConfigDict


def _is_ours(backbone_cfg) -> bool:
    t = backbone_cfg.get('type') if isinstance(backbone_cfg, dict) else None
    if isinstance(t, str):  # an unscoped name means the config's own library
        return t.startswith('vitdense.')
    return isinstance(t, type) and t.__module__.startswith('vitdense.')


def backbone_feature_info(backbone_cfg) -> List[dict]:
    """``feature_info`` (channels ``num_chs`` and stride ``reduction`` of each returned map) of a
    vitdense backbone config.

    The channels are only known from an instance (each family resolves its arch, custom dicts
    included, in ``__init__``), so the backbone is built once here, without weights (``init_cfg``
    dropped, ``init_weights`` not called, no forward pass); the model build that follows builds it again.
    """
    from vitdense.registry import MODELS
    cfg = copy.deepcopy(dict(backbone_cfg))
    cfg['init_cfg'] = None
    # keep the scoped name: under another default scope (mmdet, ...) a bare name would resolve there
    model = MODELS.build(cfg)
    return list(model.feature_info)


def backbone_out_channels(backbone_cfg) -> List[int]:
    """Channels of each returned feature map of a vitdense backbone config (``feature_info``)."""
    return [f['num_chs'] for f in backbone_feature_info(backbone_cfg)]


def _fail(what: str, declared, actual, backbone_type, hint: str):
    raise ValueError(f'{what} in_channels={list(declared) if isinstance(declared, (list, tuple)) else declared} '
                     f'do not match the outputs of backbone {backbone_type}, whose channels are {actual}; '
                     f'{hint}')


def check_model_channels(model_cfg) -> Optional[List[int]]:
    """Raise ValueError if the neck/heads of ``model_cfg`` cannot take our backbone's outputs.

    Understands mmdet detectors (``neck.in_channels`` list), mmseg encoder-decoders
    (``decode_head``/``auxiliary_head`` with ``in_index``, or a neck) and mmpretrain classifiers
    (``head.in_channels`` after a pooling neck). Returns the backbone's channels, or None when the
    backbone is not one of ours.
    """
    if not isinstance(model_cfg, dict):
        return None
    backbone = model_cfg.get('backbone')
    if not isinstance(backbone, dict) or not _is_ours(backbone):
        return None
    chans = backbone_out_channels(backbone)
    btype = backbone.get('type')
    neck = model_cfg.get('neck')
    necks = neck if isinstance(neck, (list, tuple)) else [neck] if neck else []
    if necks:
        first = necks[0]
        declared = first.get('in_channels') if isinstance(first, dict) else None
        if isinstance(declared, (list, tuple)) and list(declared) != chans:
            _fail(f'neck {first.get("type")}', declared, chans, btype,
                  f'set neck.in_channels={chans} (or change the backbone out_indices)')
        if isinstance(declared, int) and declared != chans[-1]:
            _fail(f'neck {first.get("type")}', declared, chans, btype, f'set neck.in_channels={chans[-1]}')
        return chans
    for key in ('decode_head', 'auxiliary_head', 'head'):
        heads = model_cfg.get(key)
        for head in (heads if isinstance(heads, (list, tuple)) else [heads] if heads else []):
            if not isinstance(head, dict) or 'in_channels' not in head:
                continue
            declared = head['in_channels']
            idx = head.get('in_index', -1 if key == 'head' else None)
            if isinstance(declared, (list, tuple)):
                idx = list(range(len(chans))) if idx is None else idx
                idx = idx if isinstance(idx, (list, tuple)) else [idx]
                try:
                    expected = [chans[i] for i in idx]
                except IndexError:
                    _fail(f'{key} {head.get("type")} (in_index={idx})', declared, chans, btype,
                          'in_index points past the backbone outputs')
                if list(declared) != expected:
                    _fail(f'{key} {head.get("type")} (in_index={idx})', declared, chans, btype,
                          f'set {key}.in_channels={expected}')
            elif isinstance(declared, int):
                i = -1 if idx is None else idx
                if isinstance(i, (list, tuple)):
                    continue  # resize_concat heads: sum of channels, checked by the head itself
                try:
                    expected = chans[i]
                except IndexError:
                    _fail(f'{key} {head.get("type")} (in_index={i})', declared, chans, btype,
                          'in_index points past the backbone outputs')
                if declared != expected:
                    _fail(f'{key} {head.get("type")} (in_index={i})', declared, chans, btype,
                          f'set {key}.in_channels={expected}')
    return chans


def build_model(cfg_model, registry=None):
    """Check channels, then build ``cfg_model`` with ``registry`` (default: mmengine's root MODELS
    under the current default scope)."""
    if isinstance(cfg_model, dict) and not isinstance(cfg_model, ConfigDict):
        cfg_model = ConfigDict(cfg_model)
    check_model_channels(cfg_model)
    if registry is None:
        from mmengine.registry import MODELS as registry
    return registry.build(cfg_model)
