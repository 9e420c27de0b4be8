"""EMO fidelity: parameter counts of the official models, equal stage features to the official code
(no peer library implements EMO), the official checkpoint layouts, the dilated window grid and a
toy detection run.

``tests/data/emo_official_small.pt`` was written by ``tools/fixtures/make_emo_fixture.py`` from
zhangzjn/EMO at commit 27d9b40fea9c2a12a2fe7acc51032184852a99d8: its ``model/emo.py`` (with
``model/basic_modules.py``) imported unchanged, with stand-ins only for its imports (the ``model``
package's ``MODEL`` registry, and the timm 0.6 module paths ``timm.models.layers.activations`` /
``.weight_init``, ``timm.models.efficientnet_blocks`` / ``efficientnet_builder`` pointed at their timm
1.x homes). The classifier ``EMO(num_classes=10, ...)`` with the settings of every released model
(BN in stages 1-2, channels-first LN in 3-4, SiLU/GELU, 3-3-5-5 depth-wise kernels, attention in
stages 3-4, ``attn_pre=True``, ``qkv_bias=True``) on a small custom arch: stem 8, dims 8-16-24-32,
depths 1-1-2-2, expansion 2, heads of 8 channels, SE 1/4 in stages 2 and 4, window 3 (so that the
dilated window grid and the zero padding to a multiple of the window are exercised at small maps).
Seeded random weights (``vitdense.testing.randomize_``, seed 0, BatchNorm statistics included)
rounded to fp16 values, eval mode. Entries: ``arch`` (the official keyword arguments);
``state_dict`` (the official classifier layout, fp16, ``num_batches_tracked`` left out: ``stage0``
stem, ``stage1..4``, final ``norm.norm``, ``head``; both sides run on its fp32 cast); ``x_64``
(2x3x64x64), ``x_75x53`` and ``x_96x160`` (1x3) uint8 images (generator seed 1), normalised as
``(x / 255 - 0.45) / 0.25``; ``feats_*``, the outputs of the last block of ``stage1..4`` (forward
hooks), i.e. what the official dense backbone (``down-stream-tasks/mmdetection/.../emo.py``, the
same blocks) returns. The official code itself is not part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch

import vitdense.backbones.emo as emo_module
from vitdense.backbones.emo import EMO, IRMB, convert_emo_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'emo_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('64', '75x53', '96x160')  # 75x53: odd sides, every attention map padded to the window

# Parameters of the ImageNet classifiers (backbone + final channels-first LayerNorm + 1000-way
# linear head, pre_dim 0), counted by building EMO_1M / EMO_2M / EMO_5M / EMO_6M of the official
# model/emo.py at commit 27d9b40 locally.
OFFICIAL_PARAMS = {'1m': 1_361_168, '2m': 2_377_472, '5m': 5_108_848, '6m': 6_168_496}
# The official README's "#params" column (1.3M / 2.3M / 5.1M / 6.1M): millions, truncated.
README_M = {'1m': 1.3, '2m': 2.3, '5m': 5.1, '6m': 6.1}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    a = official['arch']
    arch = dict(depths=a['depths'], embed_dims=a['embed_dims'], exp_ratios=a['exp_ratios'],
                dim_heads=a['dim_heads'], stem_dim=a['stem_dim'], se_ratios=a['se_ratios'],
                window_sizes=a['window_sizes'])
    return EMO(arch, **kw)


def _classifier_params(arch):
    m = EMO(arch)
    c = m.num_features[-1]
    return sum(p.numel() for p in m.parameters()) + 2 * c + c * 1000 + 1000


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    n = _classifier_params(arch)
    assert n == OFFICIAL_PARAMS[arch]
    assert math.floor(n / 1e5) / 10 == README_M[arch]
    assert _classifier_params(f'emo_{arch}') == n


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs(official, size):
    ours = _small(official).eval()
    ours.load_state_dict(convert_emo_checkpoint(official['state_dict']), strict=True)
    x = _img(official[f'x_{size}'])
    with torch.no_grad():
        outs = ours(x)
    H, W = x.shape[-2:]
    for i, (got, exp) in enumerate(zip(outs, official[f'feats_{size}'])):
        s = 4 * 2 ** i
        assert got.shape == exp.shape == (x.shape[0], ours.num_features[i], math.ceil(H / s), math.ceil(W / s))
        assert_features_close(got, exp, msg=f'stage {i + 1} at {size}')


def _contiguous_partition(x, window):
    B, C, H, W = x.shape
    wh, ww = window
    nh, nw = H // wh, W // ww
    x = x.view(B, C, nh, wh, nw, ww).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B * nh * nw, C, wh, ww), (nh, nw)


def _contiguous_reverse(x, grid):
    nh, nw = grid
    b, C, wh, ww = x.shape
    x = x.view(b // (nh * nw), nh, nw, C, wh, ww).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b // (nh * nw), C, nh * wh, nw * ww)


def test_fixture_tells_the_dilated_grid_from_contiguous_windows(official, monkeypatch):
    """The official windows are a dilated grid (window (a, b) holds the tokens n_h rows / n_w
    columns apart); ordinary contiguous windows of the same size give other features."""
    ours = _small(official).eval()
    ours.load_state_dict(convert_emo_checkpoint(official['state_dict']), strict=True)
    x = _img(official['x_96x160'])
    monkeypatch.setattr(emo_module, 'grid_partition', _contiguous_partition)
    monkeypatch.setattr(emo_module, 'grid_reverse', _contiguous_reverse)
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(ours(x)[2], official['feats_96x160'][2])


def test_fixture_tells_zero_padding_from_other_padding(official, monkeypatch):
    """At 75x53 every attention map is padded to the window; the official code pads the normalised
    map with zeros (unmasked keys), so padding by replication gives other features."""
    ours = _small(official).eval()
    ours.load_state_dict(convert_emo_checkpoint(official['state_dict']), strict=True)
    pad = emo_module.F.pad
    monkeypatch.setattr(emo_module.F, 'pad', lambda x, p: pad(x, p, mode='replicate'))
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(ours(_img(official['x_75x53']))[2], official['feats_75x53'][2])


def test_grid_partition_round_trip_and_layout():
    x = torch.arange(6 * 9, dtype=torch.float32).view(1, 1, 6, 9)
    w, grid = emo_module.grid_partition(x, (3, 3))
    assert grid == (2, 3) and w.shape == (6, 1, 3, 3)
    # window (a, b) = (1, 2) holds rows 1, 3, 5 and columns 2, 5, 8
    assert torch.equal(w[1 * 3 + 2, 0], x[0, 0, 1::2, 2::3])
    assert torch.equal(emo_module.grid_reverse(w, grid), x)


def test_official_classifier_checkpoint_loads_through_init_cfg(official, tmp_path):
    """The official release (resources/EMO_*/net.pth: a bare classifier state dict, stem
    stage0, LayerNorm wrappers, final norm and head) loads with the head and final norm dropped."""
    path = tmp_path / 'net.pth'
    torch.save(official['state_dict'], path)
    ours = _small(official, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official['x_75x53']))
    assert_features_close(outs, official['feats_75x53'])


def test_official_dense_checkpoint_loads_through_init_cfg(official, tmp_path):
    """A checkpoint of the official mmdet/mmseg models: 'state_dict' with 'backbone.' keys in the
    official layout (no final norm / head)."""
    path = tmp_path / 'retinanet_emo_small.pth'
    sd = {'backbone.' + k: v for k, v in official['state_dict'].items() if k.startswith('stage')}
    sd['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    torch.save({'state_dict': sd, 'meta': {}}, path)
    ours = _small(official, out_indices=(2, 3), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official['x_64']))
    assert_features_close(outs, official['feats_64'][2:])


def test_converter_maps_official_names_and_keeps_our_format(official):
    sd = official['state_dict']
    conv = convert_emo_checkpoint(sd)
    assert torch.equal(conv['stem.conv.weight'], sd['stage0.0.convs.0.0.weight'])
    assert torch.equal(conv['stem.norm.running_var'], sd['stage0.0.convs.0.1.running_var'])
    assert torch.equal(conv['stem_block.se.conv_reduce.weight'], sd['stage0.1.se.conv_reduce.weight'])
    assert torch.equal(conv['stage3.1.norm.weight'], sd['stage3.1.norm.norm.weight'])
    assert torch.equal(conv['stage4.1.qk.conv.weight'], sd['stage4.1.qk.conv.weight'])
    assert not any(k.startswith(('norm.', 'head.')) for k in conv)
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_emo_checkpoint(ours)
    assert list(again) == list(ours) and all(again[k] is ours[k] for k in ours)


def test_structure_and_options():
    """Stem 3x3/2 conv + BN + SE(1) block; the first block of a stage has stride 2, twice the
    expansion, no skip and no attention; attention heads of dim_head channels in stages 3-4;
    window size per dense setting; norm_eval."""
    m = EMO('5m')
    assert m.stem.conv.stride == (2, 2) and m.stem.conv.kernel_size == (3, 3)
    assert isinstance(m.stem_block.se, emo_module.SqueezeExcite) and not m.stem_block.has_skip
    first, blk = m.stage3[0], m.stage3[1]
    assert first.conv_local.conv.stride == (2, 2) and not first.has_skip and not first.attn
    assert first.conv_local.conv.out_channels == 72 * 8 and blk.conv_local.conv.out_channels == 160 * 4
    assert blk.attn and blk.num_heads == 5 and blk.window_size == 7 and blk.conv_local.conv.kernel_size == (5, 5)
    assert not any(b.attn for b in list(m.stage1) + list(m.stage2))
    assert all(b.window_size == 10 for b in EMO('5m', window_size=10).stage4[1:])
    frozen_bn = EMO('1m', norm_eval=True).train()
    assert frozen_bn.training and not frozen_bn.stage1[0].conv_local.norm.training
    with pytest.raises(ValueError, match='divisible'):
        IRMB(30, 30, attn=True, dim_head=16)


def test_global_attention_at_any_size():
    """window_size <= 0 attends over the whole map (no padding); odd sizes keep ceil(H / s)."""
    m = randomize_(EMO('1m', window_size=0), seed=1).eval()
    x = torch.randn(1, 3, 45, 61)
    with torch.no_grad():
        outs = m(x)
    assert [o.shape[-2:] for o in outs] == [(12, 16), (6, 8), (3, 4), (2, 2)]
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.slow
def test_toy_mask_rcnn_emo_1m_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/emo/mask_rcnn_emo_1m_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
