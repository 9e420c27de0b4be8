"""RepNeXt fidelity: parameter counts of the official models (training and fused form), equal stage
features to the official code (no peer library implements RepNeXt), the re-parameterization
(``switch_to_deploy``), the official checkpoint layouts and a toy detection run.

``tests/data/repnext_official_small.pt`` was written by ``tools/fixtures/make_repnext_fixture.py``
from suous/RepNeXt at commit f515377837207e883cc9d6bcc38f9c98fcd2bc1f: its ``model/repnext.py``,
imported unchanged, class ``RepNext`` with a small custom arch (embed_dim 8-16-32-64, depth 1-1-1-1,
MLP ratio 2, 10 classes), seeded random weights (``vitdense.testing.randomize_``, seed 0, BatchNorm
statistics included) rounded to fp16 values, eval mode. Entries: ``arch``; ``state_dict`` (the
official one, fp16, classifier included, BatchNorm ``num_batches_tracked`` counters left out; both
sides run on its fp32 cast); ``x_64`` (1x3x64x64) and ``x_75x53`` (1x3x75x53) uint8 images (input
seed 1), normalised as ``(x / 255 - 0.45) / 0.25``; ``feats_64`` / ``feats_75x53``, the four
``stages[i]`` outputs (forward hooks); after the official ``fuse()``: ``fused_shapes`` (parameter
name -> shape of the fused state dict), ``fused_params`` (its parameter count) and
``fused_feats_75x53`` (its stage outputs). The official code itself is not part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.repnext import RepNeXt, convert_repnext_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run
from vitdense.utils import torchscript

DATA = os.path.join(os.path.dirname(__file__), 'data', 'repnext_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('64', '75x53')

# Parameters of the ImageNet classifiers (1000 classes), counted by building repnext_m0..m5 of the
# official model/repnext.py at commit f515377 locally: the training form (backbone + the two
# BatchNorm1d+Linear heads, ``head`` and ``head_dist``) and after the official ``fuse()`` (one
# Linear head). The README's/paper's 2.3/4.8/6.5/7.8/13.3/21.7M are the fused counts.
OFFICIAL_PARAMS = {'m0': 2_716_480, 'm1': 5_323_316, 'm2': 7_049_082, 'm3': 8_466_560, 'm4': 14_080_480,
                   'm5': 22_708_860}
OFFICIAL_FUSED_PARAMS = {'m0': 2_333_200, 'm1': 4_829_560, 'm2': 6_473_200, 'm3': 7_818_920,
                         'm4': 13_342_120, 'm5': 21_737_560}
PUBLISHED_MILLIONS = {'m0': 2.3, 'm1': 4.8, 'm2': 6.5, 'm3': 7.8, 'm4': 13.3, 'm5': 21.7}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


def _n(module):
    return sum(p.numel() for p in module.parameters())


def _heads(dim, fused):
    linear = dim * 1000 + 1000
    return linear if fused else 2 * (linear + 2 * dim)  # head and head_dist: BatchNorm1d + Linear


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    a = official['arch']
    return RepNeXt(dict(embed_dims=tuple(a['embed_dim']), depths=tuple(a['depth'])), **kw)


def _loaded(official, **kw):
    m = _small(official, **kw)
    res = m.load_state_dict(convert_repnext_checkpoint(official['state_dict']), strict=False)
    assert not res.unexpected_keys
    assert all(k.endswith('num_batches_tracked') for k in res.missing_keys), res.missing_keys
    return m.eval()


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = RepNeXt(arch)
    assert _n(m) + _heads(m.num_features[-1], fused=False) == OFFICIAL_PARAMS[arch]
    m.switch_to_deploy()
    fused = _n(m) + _heads(m.num_features[-1], fused=True)
    assert fused == OFFICIAL_FUSED_PARAMS[arch]
    assert round(fused / 1e6, 1) == PUBLISHED_MILLIONS[arch]


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs(official, size):
    ours = _loaded(official)
    with torch.no_grad():
        outs = ours(_img(official[f'x_{size}']))
    ref = official[f'feats_{size}']
    assert len(outs) == len(ref) == 4
    for got, exp in zip(outs, ref):
        assert_features_close(got, exp)


def test_odd_size_is_ceil_divided(official):
    outs = _loaded(official)(_img(official['x_75x53']))
    assert [tuple(o.shape[-2:]) for o in outs] == [(19, 14), (10, 7), (5, 4), (3, 2)]


def test_switch_to_deploy_equals_official_fused_model(official):
    """Our fusion gives the official fused model: same names and shapes, same outputs, and fewer
    parameters than the training form; fused and unfused outputs agree."""
    ours = _loaded(official)
    x = _img(official['x_75x53'])
    with torch.no_grad():
        before = ours(x)
    n_before = _n(ours)
    ours.switch_to_deploy()
    assert ours.deploy
    with torch.no_grad():
        after = ours(x)
    assert_features_close(after, before)
    assert_features_close(after, official['fused_feats_75x53'])
    assert _n(ours) < n_before
    official_backbone = {k: v for k, v in official['fused_shapes'].items() if not k.startswith('head.')}
    assert {k: list(v.shape) for k, v in ours.state_dict().items()} == official_backbone
    head = sum(math.prod(v) for k, v in official['fused_shapes'].items() if k.startswith('head.'))
    assert _n(ours) + head == official['fused_params']


def test_switch_to_deploy_random_full_arch_fp32():
    """M0 with random weights and BatchNorm statistics, at an odd size: the fused network's stage
    outputs equal the training form's (fp32), with fewer parameters; deploy=True builds that form."""
    m = randomize_(RepNeXt('m0'), seed=2).eval()
    x = torch.randn(1, 3, 67, 45)
    with torch.no_grad():
        ref = m(x)
    n = _n(m)
    m.switch_to_deploy()
    with torch.no_grad():
        got = m(x)
    assert_features_close(got, ref)
    assert _n(m) < n
    built = RepNeXt('m0', deploy=True)
    assert {k: v.shape for k, v in built.state_dict().items()} == {k: v.shape for k, v in m.state_dict().items()}
    m.switch_to_deploy()  # a second call changes nothing
    assert_features_close(m(x), got)


def test_switch_to_deploy_keeps_frozen_and_mode(official):
    m = _small(official, frozen_stages=1).train()
    m.switch_to_deploy()
    m.train()
    assert not any(p.requires_grad for p in m.stem.parameters())
    assert not any(p.requires_grad for p in m.stages[0].parameters())
    assert all(p.requires_grad for p in m.stages[1].parameters())
    assert not m.stem.training and m.stages[1].training


def test_official_release_layout_loads_through_init_cfg(official, tmp_path):
    """The official classification files are {'model': state_dict} with both heads."""
    path = tmp_path / 'repnext_small_arch.pth'
    torch.save({'model': official['state_dict']}, path)
    ours = _small(official, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official['x_75x53']))
    assert_features_close(outs, official['feats_75x53'])


def test_official_dense_layout_loads_through_init_cfg(official, tmp_path):
    """The official COCO/ADE20K files: mmdet/mmseg state dicts with backbone./neck./head keys."""
    sd = {f'backbone.{k}': v for k, v in official['state_dict'].items() if not k.startswith('head.')}
    sd['neck.lateral_convs.0.conv.weight'] = torch.zeros(4, 8, 1, 1)
    path = tmp_path / 'repnext_small_coco.pth'
    torch.save({'state_dict': sd, 'meta': {}}, path)
    ours = _small(official, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    with torch.no_grad():
        outs = ours.eval()(_img(official['x_64']))
    assert_features_close(outs, official['feats_64'])


def test_fused_torchscript_release_loads_with_deploy(official, tmp_path):
    """The fused releases (``*_fused.pt``) are TorchScript models of the official fused network (our
    deploy names plus a ``head`` Linear); loaded into ``deploy=True``, refused by the training form."""
    src = _loaded(official)
    src.switch_to_deploy()
    x = _img(official['x_75x53'])

    class WithHead(torch.nn.Module):  # the official fused classifier's layout: backbone names + head

        def __init__(self, backbone):
            super().__init__()
            self.stem, self.stages = backbone.stem, backbone.stages
            self.head = torch.nn.Linear(64, 10)

        def forward(self, x):
            return self.head(self.stages(self.stem(x)).mean((2, 3)))

    path = str(tmp_path / 'repnext_small_fused.pt')
    torch.jit.trace(WithHead(src).eval(), x).save(path)
    with pytest.raises(RuntimeError, match='vitdense.utils.torchscript'):
        _small(official, deploy=True, init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()
    path = str(tmp_path / 'repnext_small_fused.pth')
    torchscript.main([str(tmp_path / 'repnext_small_fused.pt'), path])
    ours = _small(official, deploy=True, init_cfg=dict(type='Pretrained', checkpoint=path))
    ours.init_weights()
    with torch.no_grad():
        outs = ours.eval()(x)
    assert_features_close(outs, official['fused_feats_75x53'])
    with pytest.raises(RuntimeError, match='deploy=True'):
        _small(official, init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()


def test_converter_drops_the_classifier_and_keeps_our_format(official):
    conv = convert_repnext_checkpoint(official['state_dict'])
    assert not any(k.startswith('head.') for k in conv)
    assert any(k.startswith('head.head_dist.') for k in official['state_dict'])
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_repnext_checkpoint(ours)
    assert list(again) == list(ours)
    assert all(again[k] is ours[k] for k in ours)


def test_norm_eval_keeps_batchnorms_in_eval_mode(official):
    """The official dense backbones keep every BatchNorm in eval mode while training."""
    m = _small(official, norm_eval=True).train()
    bns = [b for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    assert bns and not any(b.training for b in bns)
    assert m.stages[1].blocks[0].channel_mixer[1].training  # other modules train
    assert any(b.training for b in _small(official).train().modules() if isinstance(b, torch.nn.BatchNorm2d))


@pytest.mark.slow
def test_toy_mask_rcnn_repnext_m0_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/repnext/mask_rcnn_repnext_m0_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics


def test_switch_to_deploy_keeps_dtype(official):
    m = _loaded(official).double()
    x = _img(official['x_64']).double()
    with torch.no_grad():
        ref = m(x)
        m.switch_to_deploy()
        got = m(x)
    assert all(p.dtype == torch.float64 for p in m.parameters())
    assert_features_close(got, ref, rel=1e-10)
