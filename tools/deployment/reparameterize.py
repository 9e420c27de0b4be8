"""Write the fused (deploy) checkpoint of a trained re-parameterizable model.

    python tools/deployment/reparameterize.py CONFIG CHECKPOINT OUT [--cfg-options KEY=VALUE ...]

CONFIG is the training config (mmdet, mmseg or mmpretrain, by its ``default_scope``) and CHECKPOINT
what training wrote. Every module with ``switch_to_deploy()`` (RepVGG, RepNeXt, UniRepLKNet, ...)
fuses its train-time branches; OUT holds ``{'state_dict', 'meta'}`` like a Runner checkpoint and
loads with ``weights_only=True`` into the same config built with ``model.backbone.deploy=True``
(e.g. ``configs/repvgg/repvgg_a0_deploy_in1k.py``), in ``load_from`` or ``tools/test.py``.
"""
import argparse
import importlib
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

import vitdense  # noqa: F401  (weights_only loaders, vitdense registry)
from vitdense.utils.reparam import reparameterize_model


def build_model(cfg: Config):
    scope = cfg.get('default_scope', None)
    if scope not in ('mmdet', 'mmseg', 'mmpretrain'):
        raise ValueError(f'the config sets default_scope={scope!r}; reparameterize.py builds mmdet, mmseg or '
                         f'mmpretrain models (set default_scope in the config)')
    importlib.import_module(f'{scope}.utils').register_all_modules(init_default_scope=False)
    registry = importlib.import_module(f'{scope}.registry')
    with DefaultScope.overwrite_default_scope(scope):
        return registry.MODELS.build(cfg.model)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('config')
    ap.add_argument('checkpoint')
    ap.add_argument('out')
    ap.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = ap.parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg)
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    before = sum(p.numel() for p in model.parameters())
    fused = reparameterize_model(model)
    after = sum(p.numel() for p in model.parameters())
    meta = dict(source_checkpoint=str(args.checkpoint), config=str(args.config), reparameterized=fused,
                time=time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, args.out)
    print(f'fused {", ".join(fused)}: {before:,} -> {after:,} parameters; wrote {args.out} '
          f'(load it into the config with model.backbone.deploy=True)')
    return fused


if __name__ == '__main__':
    main()
