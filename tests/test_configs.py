"""Every config under configs/ parses, passes the channel check and builds its model; the
features flow through the neck on a small input."""
import glob
import importlib
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from vitdense.utils.model_check import check_model_channels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Restoration (GRL) and few-shot (CAT-Net) configs have no backbone/neck: their own test files
# (tests/test_grl*.py, tests/test_catnet*.py) build every config in those folders.
OWN_TESTS = ('grl', 'catnet')
CONFIGS = sorted(p for p in glob.glob(os.path.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p and os.path.relpath(p, ROOT).split(os.sep)[1] not in OWN_TESTS)


def test_configs_found():
    assert len(CONFIGS) >= 4, CONFIGS


def _drop_pretrained(cfg):
    backbone = cfg.model.get('backbone')
    if backbone is not None:
        backbone['init_cfg'] = None


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    scope = cfg.get('default_scope')
    assert scope in ('mmdet', 'mmseg', 'mmpretrain', 'vitdense'), f'{path}: default_scope {scope!r}'
    importlib.import_module(f'{scope}.models' if scope != 'vitdense' else 'vitdense')
    for imp in cfg.get('custom_imports', {}).get('imports', []):
        importlib.import_module(imp)
    _drop_pretrained(cfg)
    assert check_model_channels(cfg.model) is not None, 'configs here use a vitdense backbone'
    reg = importlib.import_module(f'{scope}.registry')
    with DefaultScope.overwrite_default_scope(scope):
        model = reg.MODELS.build(cfg.model)
    assert type(model.backbone).__module__.startswith('vitdense.backbones')
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 64, 96))
    assert all(torch.isfinite(f).all() for f in (feats if isinstance(feats, (list, tuple)) else [feats]))
