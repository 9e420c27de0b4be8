"""Conv2Former fidelity: parameter counts of the official models, equal stage features to the official
code (no peer library implements Conv2Former), the official checkpoint layout, the per-arch kernel
sizes, padding of odd maps and a toy detection run.

``tests/data/conv2former_official_small.pt`` was written by ``tools/fixtures/make_conv2former_fixture.py``
from HVision-NKU/Conv2Former at commit 94fd1c4d0a8b022f6586f740f42fda7d4d74dec3: its
``models/conv2former.py`` (the only model code released), imported unchanged, class ``Conv2Former``
with a small custom arch (dims 8-16-32-64, depths 1-1-2-1, kernel_size 7, MLP ratio 4, 10 classes),
seeded random weights (``vitdense.testing.randomize_``, seed 0, BatchNorm statistics included)
rounded to fp16 values, eval mode. Entries: ``arch``; ``state_dict`` (the official one, fp16, head
and ``pred`` included; both sides run on its fp32 cast); ``x_64`` (2x3x64x64) and ``x_96x160``
(1x3x96x160) uint8 images, normalised as ``(x / 255 - 0.45) / 0.25``; ``feats_64`` / ``feats_96x160``,
the four ``stages[i]`` outputs (forward hooks). The official code itself is not part of this
repository.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.conv2former import Conv2Former, convert_conv2former_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'conv2former_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('64', '96x160')

# Parameters of the ImageNet classifiers (backbone + the official head: 1x1 conv to 1280, GELU,
# LayerNorm, 1000-way linear), counted by building conv2former_{n,t,s,b,b_22k,l} of the official
# models/conv2former.py at commit 94fd1c4 locally.
OFFICIAL_PARAMS = {'nano': 14_992_840, 'tiny': 26_697_204, 'small': 50_032_692, 'base': 90_029_112,
                   'base_22k': 88_784_952, 'large': 198_893_736}
# The official README's table (and the paper's): parameters in millions. The README lists its
# IN-22k-pretrained B as 90M too, but the official conv2former_b_22k (7x7 kernels) has 88.8M.
PUBLISHED_MILLIONS = {'nano': 15, 'tiny': 27, 'small': 50, 'base': 90, 'large': 199}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


def _official_head_params(dim):
    head = [nn.Conv2d(dim, 1280, 1), nn.LayerNorm(1280), nn.Linear(1280, 1000)]
    return sum(p.numel() for m in head for p in m.parameters())


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    a = official['arch']
    arch = dict(dims=tuple(a['dims']), depths=tuple(a['depths']), kernel_size=a['kernel_size'])
    return Conv2Former(arch, drop_path_rate=0.0, **kw)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = Conv2Former(arch, out_norm=False)
    n = sum(p.numel() for p in m.parameters()) + _official_head_params(m.num_features[-1])
    assert n == OFFICIAL_PARAMS[arch]


@pytest.mark.parametrize('arch', sorted(PUBLISHED_MILLIONS))
def test_param_count_rounds_to_published_millions(arch):
    m = Conv2Former(arch, out_norm=False)
    n = sum(p.numel() for p in m.parameters()) + _official_head_params(m.num_features[-1])
    assert round(n / 1e6) == PUBLISHED_MILLIONS[arch]


def test_modulation_kernel_sizes_follow_the_official_variants():
    """conv2former_n and conv2former_b_22k use 7x7 depth-wise kernels, T/S/B/L 11x11."""
    expected = {'n': 7, 'nano': 7, 'base_22k': 7, 't': 11, 's': 11, 'b': 11, 'l': 11}
    for arch, k in expected.items():
        m = Conv2Former(arch, out_indices=(0, ))
        assert m.stages[0][0].attn.att[2].weight.shape[-2:] == (k, k), arch


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs(official, size):
    ours = _small(official, out_norm=False)
    ours.load_state_dict(convert_conv2former_checkpoint(official['state_dict']), strict=True)
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official[f'x_{size}']))
    ref = official[f'feats_{size}']
    assert len(outs) == len(ref) == 4
    for got, exp in zip(outs, ref):
        assert got.shape == exp.shape
        assert_features_close(got, exp)


def test_official_release_layout_loads_through_init_cfg(official, tmp_path):
    """The official files are {'model': state_dict} with the classifier head (and BN buffers)."""
    path = tmp_path / 'conv2former_small_arch.pth'
    torch.save({'model': official['state_dict']}, path)
    ours = _small(official, out_norm=False, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official['x_96x160']))
    for got, exp in zip(outs, official['feats_96x160']):
        assert_features_close(got, exp)


def test_converter_drops_the_classifier_and_keeps_our_format(official):
    conv = convert_conv2former_checkpoint(official['state_dict'])
    assert not any(k.startswith(('head.', 'pred.')) for k in conv)
    assert any(k.startswith('head.') for k in official['state_dict'])
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_conv2former_checkpoint(ours)
    assert list(again) == list(ours)
    assert all(again[k] is ours[k] for k in ours)


def test_output_norms_follow_the_stage_outputs(official):
    """out_norm=True: each returned stage is the raw stage output through its LayerNorm."""
    sd = convert_conv2former_checkpoint(official['state_dict'])
    raw = _small(official, out_norm=False).eval()
    raw.load_state_dict(sd, strict=True)
    normed = randomize_(_small(official, out_indices=(1, 3)), seed=4).eval()
    missing = normed.load_state_dict(sd, strict=False).missing_keys
    assert sorted(missing) == ['norm1.bias', 'norm1.weight', 'norm3.bias', 'norm3.weight']
    x = _img(official['x_64'])
    with torch.no_grad():
        r, n = raw(x), normed(x)
    for i, out in zip((1, 3), n):
        assert_features_close(out, normed.get_submodule(f'norm{i}')(r[i]))


def test_bottom_right_pixels_are_not_dropped(official):
    """A 4k+1 image's last row reaches the first stage (the official stem's 2x2/2 conv would drop it)."""
    m = randomize_(_small(official, out_indices=(0, )), seed=5).eval()
    x = torch.randn(1, 3, 33, 33)
    y = x.clone()
    y[..., 32, :] += 1.0
    with torch.no_grad():
        a, b = m(x)[0], m(y)[0]
    assert a.shape[-2:] == (9, 9)
    assert not torch.allclose(a[..., -1, :], b[..., -1, :])


@pytest.mark.slow
def test_toy_mask_rcnn_conv2former_n_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/conv2former/mask_rcnn_conv2former_n_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics


def test_random_init_is_the_official_one():
    """init_cfg=None: truncated-normal (std 0.02) conv weights, zero conv biases, unit LayerNorms
    (official _init_weights); the stem's BatchNorms keep torch's defaults."""
    m = Conv2Former(dict(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), kernel_size=7))
    m.init_weights()
    w = m.stages[2][0].mlp.fc1.weight
    assert 0.015 < w.std().item() < 0.025  # timm/mmengine truncate at +-2 (absolute), as the official
    assert m.stages[2][0].mlp.fc1.bias.abs().max() == 0
    assert m.norm0.weight.eq(1).all() and m.downsample_layers[1][0].bias.eq(0).all()
    assert m.downsample_layers[0][2].weight.eq(1).all()
