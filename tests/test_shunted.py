"""Shunted Transformer fidelity: parameter counts of the official models, equal stage features to the
official code (no peer library implements the family), the official checkpoint layout, the
shunted branch ratios, the key/value padding rule and a toy detection run.

``tests/data/shunted_official_small.pt`` was written by ``tools/fixtures/make_shunted_fixture.py``
from OliverRensu/Shunted-Transformer at commit 6861101d8f4f592da79f84294f015e1e6b150351: its
``SSA.py`` (the only model code released), class ``ShuntedTransformer``, imported with one textual
edit (the stem ``Head``'s hard-coded width 64 becomes the small arch's first width, 8). Small custom
arch: embed_dims 8-16-24-32, heads 2-2-2-4, MLP ratios 4-4-2-2, depths 1-2-1-1, sr_ratios 8-4-2-1,
num_conv 1, qkv bias, block norms LayerNorm(eps 1e-6), 10 classes; seeded random weights
(``vitdense.testing.randomize_``, seed 0, BatchNorm statistics included) rounded to fp16 values,
eval mode. Entries: ``arch``; ``state_dict`` (the official one, fp16, ``head`` included, BatchNorm
``num_batches_tracked`` left out; both sides run on its fp32 cast); ``x_64`` (1x3x64x64),
``x_64x96`` (1x3x64x96) and ``x_72x104`` (1x3x72x104) uint8 images (input seed 1), normalised as
``(x / 255 - 0.45) / 0.25``; ``feats_<size>``, the four normalised stage maps of the official
``forward_features`` loop. At 72x104 the stage maps (18x26, 9x13, 5x7) do not divide by the
reduction ratios and the official code floors: ours equals it there with ``sr_pad=False``. The
official code itself is not part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.shunted import ShuntedTransformer, convert_shunted_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'shunted_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Parameters of the ImageNet classifiers (backbone + the official 512 -> 1000 linear head), counted
# by building shunted_t / shunted_s / shunted_b of the official SSA.py at commit 6861101 locally.
OFFICIAL_PARAMS = {'tiny': 11_553_576, 'small': 22_401_256, 'base': 39_614_376}
# The official README's table: #Params (M), truncated to one decimal there (11.55 M -> 11.5).
PUBLISHED_MILLIONS = {'tiny': 11.5, 'small': 22.4, 'base': 39.6}
HEAD_PARAMS = 512 * 1000 + 1000


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    a = official['arch']
    arch = {k: tuple(v) if isinstance(v, list) else v for k, v in a.items()}
    return ShuntedTransformer(arch, drop_path_rate=0.0, **kw)


def _loaded(official, **kw):
    m = _small(official, **kw)
    m.load_state_dict(convert_shunted_checkpoint(official['state_dict']), strict=True)
    return m.eval()


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = ShuntedTransformer(arch)
    n = sum(p.numel() for p in m.parameters()) + HEAD_PARAMS
    assert n == OFFICIAL_PARAMS[arch]
    assert math.floor(n / 1e5) / 10 == PUBLISHED_MILLIONS[arch]


@pytest.mark.parametrize('size, sr_pad', [('64', True), ('64x96', True), ('72x104', False)])
def test_equals_official_stage_outputs(official, size, sr_pad):
    ours = _loaded(official, sr_pad=sr_pad)
    with torch.no_grad():
        outs = ours(_img(official[f'x_{size}']))
    ref = official[f'feats_{size}']
    assert len(outs) == len(ref) == 4
    for got, exp in zip(outs, ref):
        assert got.shape == exp.shape
        assert_features_close(got, exp)


def test_padding_rule_keeps_the_last_rows_in_the_keys(official):
    """72x104: stage-1 rows 16-17 (image rows 64-71) lie outside the floor rule's 8x8 and 4x4 key cells.
    Changing image rows 70-71 leaves the first stage-1 token unchanged with the official rule
    (``sr_pad=False``) and changes it with the padded keys (default)."""
    x = _img(official['x_72x104'])
    y = x.clone()
    y[..., 70:, :] += 1.0
    for sr_pad, changes in ((False, False), (True, True)):
        m = _loaded(official, sr_pad=sr_pad, out_indices=(0, ))
        with torch.no_grad():
            a, b = m(x)[0][..., 0, 0], m(y)[0][..., 0, 0]
        assert torch.allclose(a, b, atol=1e-6) != changes, sr_pad


def test_padded_and_floor_rules_agree_on_divisible_sizes(official):
    x = _img(official['x_64x96'])
    with torch.no_grad():
        a, b = _loaded(official)(x), _loaded(official, sr_pad=False)(x)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_small_maps_do_not_crash():
    m = randomize_(ShuntedTransformer('tiny', drop_path_rate=0.0), seed=1).eval()
    with torch.no_grad():
        for sr_pad in (True, False):
            m.block1[0].attn.sr_pad = sr_pad
            outs = m(torch.randn(1, 3, 5, 3))
            assert [tuple(o.shape[-2:]) for o in outs] == [(2, 1), (1, 1), (1, 1), (1, 1)]


def test_official_release_layout_loads_through_init_cfg(official, tmp_path):
    """The official files: a state dict (optionally under 'model') with ``mlp.dwconv.dwconv`` and ``head``."""
    path = tmp_path / 'shunted_small_arch.pth'
    torch.save({'model': official['state_dict']}, path)
    ours = _small(official, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official['x_64x96']))
    for got, exp in zip(outs, official['feats_64x96']):
        assert_features_close(got, exp)


def test_converter_renames_the_ffn_conv_drops_the_head_and_keeps_our_format(official):
    conv = convert_shunted_checkpoint(official['state_dict'])
    assert not any(k.startswith('head.') or '.dwconv.dwconv.' in k for k in conv)
    assert 'block1.0.mlp.dwconv.weight' in conv and 'block1.0.mlp.dwconv.dwconv.weight' in official['state_dict']
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_shunted_checkpoint(ours)
    assert list(again) == list(ours)
    assert all(again[k] is ours[k] for k in ours)


@pytest.mark.parametrize('arch, num_conv', [('tiny', 0), ('small', 1), ('base', 2)])
def test_stem_and_shunted_branch_ratios(arch, num_conv):
    """Stem: 7x7/2 + num_conv x 3x3 (each with BN, ReLU) + 2x2/2; branches r and r/2 per stage
    (8/4, 4/2, 2/1), plain attention with ``kv`` + ``local_conv`` in stage 4."""
    m = ShuntedTransformer(arch)
    assert len(m.patch_embed1.conv) == 3 + 3 * num_conv + 1
    for i, (r1, r2) in enumerate(((8, 4), (4, 2), (2, 1))):
        attn = getattr(m, f'block{i + 1}')[0].attn
        assert attn.sr1.kernel_size == attn.sr1.stride == (r1, r1)
        assert attn.sr2.kernel_size == attn.sr2.stride == (r2, r2)
        assert attn.kv1.out_features == attn.kv2.out_features == m.embed_dims[i]
    last = m.block4[0].attn
    assert not hasattr(last, 'sr1') and last.kv.out_features == 2 * 512 and last.local_conv.groups == 512


def test_odd_reduction_ratio_or_heads_are_refused():
    with pytest.raises(ValueError, match='even'):
        ShuntedTransformer(dict(embed_dims=(8, 16, 24, 32), depths=(1, 1, 1, 1), num_heads=(2, 2, 2, 4),
                                mlp_ratios=(2, 2, 2, 2), sr_ratios=(3, 2, 2, 1)))
    with pytest.raises(ValueError, match='even'):
        ShuntedTransformer(dict(embed_dims=(9, 16, 24, 32), depths=(1, 1, 1, 1), num_heads=(3, 2, 2, 4),
                                mlp_ratios=(2, 2, 2, 2), sr_ratios=(8, 4, 2, 1)))


@pytest.mark.slow
def test_toy_mask_rcnn_shunted_t_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/shunted/mask_rcnn_shunted_t_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
