"""The one re-parameterization API: every registered backbone with ``switch_to_deploy()`` fuses to
equal outputs with fewer parameters through ``vitdense.utils.reparam.reparameterize_model``, and
``tools/deployment/reparameterize.py`` turns a training checkpoint of a config into one that the
deploy config (``backbone.deploy=True``) loads strictly, with equal outputs."""
import os

import pytest
import torch
import torch.nn as nn

import vitdense  # noqa: F401
from test_backbone_contract import CASES
from vitdense.backbones.base import BaseBackbone
from vitdense.registry import MODELS
from vitdense.testing import assert_features_close, randomize_
from vitdense.utils.reparam import reparameterize_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUSABLE = sorted(name for name, cls in MODELS.module_dict.items()
                 if isinstance(cls, type) and issubclass(cls, BaseBackbone) and hasattr(cls, 'switch_to_deploy'))


def test_the_fusable_families_are_found():
    assert {'RepVGG', 'RepNeXt', 'UniRepLKNet'} <= set(FUSABLE)


@pytest.mark.parametrize('name', FUSABLE)
def test_every_fusable_backbone_fuses_to_equal_outputs_with_fewer_parameters(name):
    model = randomize_(MODELS.build(dict(type=f'vitdense.{name}', **CASES[name])), seed=0).eval()
    x = torch.randn(1, 3, 67, 45, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x)
    before = sum(p.numel() for p in model.parameters())
    assert reparameterize_model(model) == [name]
    with torch.no_grad():
        got = model(x)
    for a, b in zip(got, ref):
        assert_features_close(a, b, rel=1e-5)
    assert sum(p.numel() for p in model.parameters()) < before
    assert model.deploy is True


def test_a_model_without_branches_is_refused_by_name():
    with pytest.raises(ValueError, match=r'no module with switch_to_deploy\(\).*Conv2d'):
        reparameterize_model(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))


def test_tool_writes_a_checkpoint_the_deploy_config_loads(tmp_path):
    """repvgg_a0_in1k.py (an mmpretrain ImageClassifier): a trained checkpoint (random weights and
    BatchNorm statistics, saved as the Runner does) through the tool; the deploy config built
    from repvgg_a0_deploy_in1k.py loads OUT strictly (weights_only) and gives the same logits."""
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from tools.deployment import reparameterize
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/repvgg/repvgg_a0_in1k.py'))
    trained = randomize_(reparameterize.build_model(cfg), seed=2).eval()
    ckpt, out = str(tmp_path / 'epoch_120.pth'), str(tmp_path / 'fused.pth')
    torch.save({'state_dict': trained.state_dict(), 'meta': {'epoch': 120}}, ckpt)
    assert reparameterize.main([os.path.join(ROOT, 'configs/repvgg/repvgg_a0_in1k.py'), ckpt, out]) == ['backbone']
    deploy_cfg = Config.fromfile(os.path.join(ROOT, 'configs/repvgg/repvgg_a0_deploy_in1k.py'))
    deployed = reparameterize.build_model(deploy_cfg).eval()
    load_checkpoint(deployed, out, map_location='cpu', strict=True)
    x = torch.randn(2, 3, 96, 80, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref, got = trained(x, mode='tensor'), deployed(x, mode='tensor')
    assert_features_close(got, ref, rel=1e-5)
    assert sum(p.numel() for p in deployed.parameters()) < sum(p.numel() for p in trained.parameters())
    assert torch.load(out, weights_only=True)['meta']['reparameterized'] == ['backbone']
