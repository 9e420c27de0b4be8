"""UniRepLKNet fidelity: parameter counts of the official models (training and deploy form), equal
stage features to the official code (no peer library implements UniRepLKNet: timm 1.0 has no
``unireplknet``), the official checkpoint layouts (training and deploy form), re-parameterization
(``switch_to_deploy``), the official layer-wise lr decay and a toy detection run.

``tests/data/unireplknet_official_small.pt`` was written by
``tools/fixtures/make_unireplknet_fixture.py`` from AILab-CVC/UniRepLKNet at commit
b5677d8fb0e7b8af61eac39c1bf02727f5afc1d5: its top-level ``unireplknet.py`` imported unchanged (only
``mmseg.models.builder`` stubbed out, so the optional mmseg registration is skipped), class
``UniRepLKNet`` with ``attempt_use_lk_impl=False`` (plain ``nn.Conv2d``, no iGEMM kernel) and a small
custom arch (dims 8-12-16-20, depths 1-2-3-2, kernel sizes 3 | 13, 7 | 5, 9, 11 | 15, 17: both plain
depth-wise sizes and every dilated re-parameterized block size, 10 classes), seeded random weights
(``vitdense.testing.randomize_``, seed 0, BatchNorm statistics included; block layer scales
``gamma`` then ``1 + 0.1 * N(0, 1)``, generator seed 2) rounded to fp16 values, eval mode.
Entries: ``arch``; ``state_dict`` (the official one, fp16, classifier included; both sides run on its
fp32 cast); ``x_48`` (2x3x48x48) and ``x_67x45`` (1x3x67x45) uint8 images (generator seed 1),
normalised as ``(x / 255 - 0.45) / 0.25``; ``feats_48`` / ``feats_67x45``, the four ``stages[i]``
outputs (forward hooks); after the official ``reparameterize_unireplknet()``: ``deploy_shapes``
(names and shapes of the deploy-form state dict) and ``deploy_feats_67x45``. The official code
itself is not part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.unireplknet import (DilatedReparamBlock, UniRepLKNet, UniRepLKNetBlock,
                                            convert_unireplknet_checkpoint)
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'unireplknet_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('48', '67x45')

# Parameters of the ImageNet classifiers (backbone + the official head: LayerNorm after pooling and
# a 1000-way linear), counted by building unireplknet_{a,f,p,n,t,s,b,l,xl} of the official
# unireplknet.py at commit b5677d8 locally, in the training form and with deploy=True.
OFFICIAL_PARAMS = {'a': 4_649_060, 'f': 6_489_328, 'p': 11_080_520, 'n': 18_818_880, 't': 31_693_420,
                   's': 56_456_704, 'b': 99_089_416, 'l': 220_076_056, 'xl': 388_690_984}
OFFICIAL_DEPLOY_PARAMS = {'a': 4_437_300, 'f': 6_235_216, 'p': 10_741_704, 'n': 18_318_560, 't': 31_037_980,
                          's': 55_645_984, 'b': 98_008_456, 'l': 218_454_616, 'xl': 386_529_064}
# The official README's table: parameters in millions. They are the deploy-form counts (A: 4.44M
# deployed, 4.65M in the training form; T: 31.0M vs 31.7M).
PUBLISHED_MILLIONS = {'a': 4.4, 'f': 6.2, 'p': 10.7, 'n': 18.3, 't': 31, 's': 56, 'b': 98, 'l': 218, 'xl': 386}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


def _head_params(dim):
    return 2 * dim + dim * 1000 + 1000


def _count(arch, **kw):
    m = UniRepLKNet(arch, out_norm=False, **kw)
    return sum(p.numel() for p in m.parameters()) + _head_params(m.num_features[-1])


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    a = official['arch']
    arch = dict(dims=tuple(a['dims']), depths=tuple(a['depths']), kernel_sizes=a['kernel_sizes'])
    return UniRepLKNet(arch, drop_path_rate=0.0, **kw)


def _loaded(official, **kw):
    m = _small(official, out_norm=False, **kw)
    m.load_state_dict(convert_unireplknet_checkpoint(official['state_dict']), strict=True)
    return m.eval()


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    assert _count(arch) == OFFICIAL_PARAMS[arch]


@pytest.mark.parametrize('arch', sorted(OFFICIAL_DEPLOY_PARAMS))
def test_deploy_param_count_equals_official(arch):
    assert _count(arch, deploy=True) == OFFICIAL_DEPLOY_PARAMS[arch]


@pytest.mark.parametrize('arch', sorted(PUBLISHED_MILLIONS))
def test_deploy_param_count_rounds_to_published_millions(arch):
    # one decimal below 20M, whole millions above (XL's 386.53M is listed as 386M: truncated)
    tol = 0.05 if PUBLISHED_MILLIONS[arch] < 20 else 0.6
    assert abs(_count(arch, deploy=True) / 1e6 - PUBLISHED_MILLIONS[arch]) < tol


def test_default_kernel_sizes_follow_the_official_variants():
    """T: 13/3 alternating in stage 2; S-XL: 13, 3, 3 repeated; A-N: 13 throughout; stage 0: 3x3."""
    def sizes(arch):
        m = UniRepLKNet(arch, out_indices=(0, ))
        return [[b.dwconv.kernel_size if isinstance(b.dwconv, DilatedReparamBlock) else b.dwconv.kernel_size[0]
                 for b in stage] for stage in m.stages]
    t = sizes('t')
    assert t[0] == [3] * 3 and t[1] == [13] * 3 and t[2] == [13, 3] * 9 and t[3] == [13] * 3
    assert sizes('s')[2] == [13, 3, 3] * 9
    assert sizes('a')[2] == [13] * 6 and sizes('n')[2] == [13] * 8 and sizes('a')[0] == [3, 3]
    with pytest.raises(ValueError, match='no default kernel sizes'):
        UniRepLKNet(dict(depths=(1, 1, 1, 1), dims=(8, 16, 24, 32)))
    with pytest.raises(ValueError, match='kernel sizes must be'):
        UniRepLKNet(dict(depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), kernel_sizes=((3, ), (4, ), (3, ), (3, ))))


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs(official, size):
    ours = _loaded(official)
    with torch.no_grad():
        outs = ours(_img(official[f'x_{size}']))
    ref = official[f'feats_{size}']
    assert len(outs) == len(ref) == 4
    assert_features_close(outs, ref)


def test_official_release_layout_loads_through_init_cfg(official, tmp_path):
    """The ImageNet files are {'model': state_dict} with the classifier (norm, head)."""
    path = tmp_path / 'unireplknet_small_arch.pth'
    torch.save({'model': official['state_dict']}, path)
    ours = _small(official, out_norm=False, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    with torch.no_grad():
        assert_features_close(ours.eval()(_img(official['x_67x45'])), official['feats_67x45'])


def test_official_dense_layout_loads_with_output_norms(official, tmp_path):
    """Official mmdet/mmseg checkpoints: ``backbone.`` keys with the output norms ``norm0..3``."""
    sd = convert_unireplknet_checkpoint(official['state_dict'])
    ref = randomize_(_small(official), seed=4).state_dict()
    official_dense = {f'backbone.{k}': v for k, v in official['state_dict'].items()
                      if not k.startswith(('head.', 'norm.'))}
    official_dense.update({f'backbone.norm{i}.{p}': ref[f'norm{i}.{p}'] for i in range(4) for p in ('weight', 'bias')})
    official_dense['neck.lateral_convs.0.conv.weight'] = torch.zeros(4, 8, 1, 1)
    path = tmp_path / 'casc_mask_rcnn_small.pth'
    torch.save({'state_dict': official_dense, 'meta': {}}, path)
    ours = _small(official, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    raw = _loaded(official)
    x = _img(official['x_48'])
    with torch.no_grad():
        r, n = raw(x), ours.eval()(x)
    for i in range(4):
        assert_features_close(n[i], ours.get_submodule(f'norm{i}')(r[i]))
        torch.testing.assert_close(ours.get_submodule(f'norm{i}').weight, ref[f'norm{i}.weight'])
    assert set(sd) <= set(ours.state_dict())


def test_converter_renames_the_ffn_and_keeps_our_format(official):
    conv = convert_unireplknet_checkpoint(official['state_dict'])
    assert 'stages.2.0.grn.gamma' in conv and 'stages.2.0.norm2.running_var' in conv
    assert 'stages.2.0.act.1.gamma' in official['state_dict']
    assert not any(k.startswith(('head.', 'norm.')) for k in conv)
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_unireplknet_checkpoint(ours)
    assert list(again) == list(ours)
    assert all(again[k] is ours[k] for k in ours)


@pytest.mark.parametrize('size', SIZES)
def test_switch_to_deploy_keeps_outputs_with_fewer_parameters(official, size):
    ours = _loaded(official)
    x = _img(official[f'x_{size}'])
    n_train = sum(p.numel() for p in ours.parameters())
    with torch.no_grad():
        before = ours(x)
        ours.switch_to_deploy()
        after = ours(x)
    assert ours.deploy
    assert sum(p.numel() for p in ours.parameters()) < n_train
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in ours.modules())
    assert_features_close(after, before)
    assert_features_close(after, official[f'feats_{size}'])


def test_deploy_form_matches_the_official_deploy_form(official):
    """Our switch_to_deploy gives the official reparameterize_unireplknet's tensors (names through the
    converter, shapes) and outputs; deploy=True builds the same layout, so deploy files load."""
    ours = _loaded(official)
    ours.switch_to_deploy()
    expected = {k: tuple(s) for k, s in official['deploy_shapes'].items()}
    renamed = convert_unireplknet_checkpoint({k: torch.empty(s) for k, s in expected.items()})
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert got == {k: tuple(v.shape) for k, v in renamed.items()}
    built = _small(official, out_norm=False, deploy=True)
    assert {k: tuple(v.shape) for k, v in built.state_dict().items()} == got
    built.load_state_dict(ours.state_dict(), strict=True)
    with torch.no_grad():
        assert_features_close(built.eval()(_img(official['x_67x45'])), official['deploy_feats_67x45'])
    built.switch_to_deploy()  # a no-op on the deploy form
    assert {k: tuple(v.shape) for k, v in built.state_dict().items()} == got


def test_block_fusion_with_training_statistics_and_no_layer_scale():
    """Fusion uses the running statistics (eval mode), also without layer scale (gamma None)."""
    for k in (3, 5, 7, 9, 11, 13, 15, 17):
        block = randomize_(UniRepLKNetBlock(8, k, layer_scale_init_value=0), seed=k).eval()
        assert block.gamma is None
        x = torch.randn(2, 8, 19, 23)
        with torch.no_grad():
            ref = block(x)
            block.switch_to_deploy()
            assert_features_close(block(x), ref, msg=f'k={k}')


def test_layer_decay_groups_follow_the_official_constructor():
    """get_layer_depth reproduces the official get_layer_id (num_layers 12): with
    vitdense.LayerDecayOptimWrapperConstructor the lr scales are decay ** (13 - id)."""
    m = UniRepLKNet('s', out_indices=(0, 1, 2, 3))
    p = 'backbone.'
    assert m.get_layer_depth(p + 'downsample_layers.0.0.weight', p) == (0, 14)
    assert m.get_layer_depth(p + 'stages.0.2.gamma', p) == (1, 14)
    assert m.get_layer_depth(p + 'downsample_layers.1.1.bias', p) == (2, 14)
    assert m.get_layer_depth(p + 'stages.1.0.se.up.weight', p) == (2, 14)
    assert m.get_layer_depth(p + 'downsample_layers.2.0.weight', p) == (3, 14)
    assert m.get_layer_depth(p + 'stages.2.26.pwconv1.weight', p) == (11, 14)
    assert m.get_layer_depth(p + 'stages.3.0.grn.gamma', p) == (12, 14)
    assert m.get_layer_depth(p + 'downsample_layers.3.0.weight', p) == (12, 14)
    assert m.get_layer_depth(p + 'norm2.weight', p) == (13, 14)
    assert m.get_layer_depth('neck.fpn_convs.0.conv.weight', p) == (13, 14)


def test_layer_decay_constructor_gives_the_official_lr_scales_and_weight_decay():
    """The cascade configs' optimizer: lr * 0.8 ** (13 - id), no weight decay on 1-D parameters
    (biases, norms, layer scales) but on GRN's (1, 1, 1, C) gamma / beta, as the official constructor."""
    import torch.nn as nn
    from vitdense.engine.layer_decay import LayerDecayOptimWrapperConstructor

    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = UniRepLKNet('a')
            self.neck = nn.Conv2d(320, 8, 1)

    model = Detector()
    ctor = LayerDecayOptimWrapperConstructor(dict(type='OptimWrapper', optimizer=dict(
        type='AdamW', lr=1e-4, weight_decay=0.05)), paramwise_cfg=dict(layer_decay_rate=0.8, flat_decay_mult=0.0))
    groups = {g['param_name']: g for g in ctor(model).optimizer.param_groups}
    assert len(groups) == len(list(model.parameters()))
    expected = {'backbone.downsample_layers.0.0.weight': (0, 0.05), 'backbone.stages.0.1.gamma': (1, 0.0),
                'backbone.stages.2.5.grn.gamma': (4, 0.05), 'backbone.stages.2.5.norm2.bias': (4, 0.0),
                'backbone.stages.3.1.pwconv2.weight': (12, 0.05), 'backbone.norm3.weight': (13, 0.0),
                'neck.weight': (13, 0.05)}
    for name, (layer, wd) in expected.items():
        assert groups[name]['lr'] == pytest.approx(1e-4 * 0.8 ** (13 - layer)), name
        assert groups[name]['weight_decay'] == wd, name


def test_random_init_is_the_official_one():
    """init_cfg=None: truncated-normal (std 0.02) conv / linear weights, zero biases (official
    _init_weights); GRN starts at zero, layer scale at 1e-6, norms at torch's defaults."""
    m = UniRepLKNet(dict(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), kernel_sizes=((3, ), (13, ), (3, ), (3, ))))
    m.init_weights()
    b = m.stages[1][0]
    assert 0.015 < b.pwconv1.weight.std().item() < 0.025 and b.pwconv1.bias.abs().max() == 0
    assert b.grn.gamma.abs().max() == 0 and torch.all(b.gamma == 1e-6)
    assert b.dwconv.lk_origin.bias is None and b.se.down.bias.abs().max() == 0


@pytest.mark.slow
def test_toy_mask_rcnn_unireplknet_a_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/unireplknet/mask_rcnn_unireplknet_a_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
