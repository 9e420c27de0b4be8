"""Focal Transformer fidelity: parameter counts of the official models, equal features/logits to the
official code (no peer library implements it), the run-time masks/indices at other sizes, freezing,
checkpointing, gradients, checkpoint loading.

``tests/data/focal_official_small.pt`` was produced from microsoft/Focal-Transformer at commit 57bb303
by running the official ``classification/focal_transformer.py`` (the only model code released)
locally on a small custom arch (embed 8, depths 1-1-2-1, heads 1-2-2-4, window 7, focal levels 2,
focal windows 7-5-3-1, expand 3, fc pooling: the released models' settings) with seeded random weights
(``vitdense.testing.randomize_``, bias tables x10). Inputs: 224x224 (the official training size) and
224x320 with an official model built for that size (same parameter shapes; the width is padded to
the window in every stage: 80->84, 40->42, 20->21, 10->14). Stored: the official state dict (fp16
values; both sides run on their fp32 cast), uint8 inputs, each stage's last-block output (hooks) and
the logits. The official code itself is not part of this repository. Seeds: weights 7 (std 0.1),
inputs one generator seeded 0. Regenerate: ``tools/fixtures/make_focal_fixture.py``.
"""
import os

import pytest
import torch
import torch.nn as nn

from vitdense.backbones.focal import FocalTransformer, _neighbour_offsets, convert_focal_checkpoint
from vitdense.registry import MODELS
from vitdense.testing import assert_features_close

DATA = os.path.join(os.path.dirname(__file__), 'data', 'focal_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(embed_dims=8, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4))
TOY = dict(embed_dims=16, depths=(1, 2, 1, 1), num_heads=(1, 2, 2, 4))

# Parameters of the ImageNet-1k classifiers (backbone + final norm + 1000-way head). The official
# README gives 28.9M / 51.1M / 89.8M; the exact counts are those of the official model definition
# (classification/focal_transformer.py with configs/focal_{tiny,small,base}_patch4_window7_224.yaml),
# counted locally.
OFFICIAL_PARAMS = {'tiny': 28_880_380, 'small': 51_141_940, 'base': 89_815_400}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() for k, v in d['state_dict'].items()}
    return d


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = FocalTransformer(arch, out_indices=(3,))
    head = nn.Linear(m.num_features[-1], 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == OFFICIAL_PARAMS[arch]


def test_structure_follows_the_training_resolution():
    """Official rule: a stage whose 224-px map is not larger than the window uses the map as window
    and no expanded keys (the 7x7 last stage); a larger pre-training size keeps the expansion."""
    m = FocalTransformer('tiny')
    assert not hasattr(m.layers[3].blocks[0].attn, 'relative_position_bias_table_to_neighbors')
    assert m.layers[2].blocks[0].attn.relative_position_bias_table_to_neighbors.shape == (1, 12, 49, 132)
    assert m.layers[0].blocks[0].attn.relative_position_bias_table_to_windows[0].shape == (3, 13 * 13)
    m384 = FocalTransformer('tiny', pretrain_img_size=384)
    assert hasattr(m384.layers[3].blocks[0].attn, 'relative_position_bias_table_to_neighbors')
    small = FocalTransformer(SMALL, pretrain_img_size=96)  # stage 3 map 6x6 -> window 6
    assert small.layers[2].blocks[0].window_size == 6


@pytest.mark.parametrize('size', ['224', '224x320'])
def test_equals_official_features_and_logits(official, size):
    conv = convert_focal_checkpoint(official['state_dict'])
    raw = FocalTransformer(SMALL, drop_path_rate=0.0, out_norm=False)
    raw.load_state_dict({k: v for k, v in conv.items() if not k.startswith('norm3.')}, strict=True)
    cls = FocalTransformer(SMALL, drop_path_rate=0.0, out_indices=(3,))
    cls.load_state_dict(conv, strict=True)
    raw.eval()
    cls.eval()
    x = _img(official[f'x_{size}'])
    with torch.no_grad():
        outs = raw(x)
        feat = cls(x)[0].mean((2, 3))
    for got, exp in zip(outs, official[f'feats_{size}']):
        got = got.flatten(2).transpose(1, 2)
        assert got.shape == exp.shape
        assert_features_close(got, exp)
    sd = official['state_dict']
    logits = nn.functional.linear(feat, sd['head.weight'], sd['head.bias'])
    assert_features_close(logits, official[f'logits_{size}'])


def test_neighbour_keys_follow_the_official_rolls():
    """132 = 4 x (49 - 16) keys for w=7, e=3, in the order of the official rolls (-3,-3), (-3,+3),
    (+3,-3), (+3,+3); all outside the window, covering the 13x13 square around it (overlapping)."""
    off = _neighbour_offsets(7, 3)
    assert off.shape == (49 + 132, 2)
    win, nb = off[:49], off[49:]
    assert ((win >= 0) & (win < 7)).all()
    assert not ((nb >= 0) & (nb < 7)).all(-1).any()  # no neighbour inside the window
    assert (nb.min() == -3) and (nb.max() == 9)
    assert nb[0].tolist() == [3, 7]  # first kept token of the (-3, -3) roll: row 0, col 4 of the window
    assert len({tuple(t) for t in nb.tolist()}) == 120  # (7 + 6)^2 - 49 distinct positions, some twice


def _corner_change(**kw):
    m = FocalTransformer(dict(embed_dims=8, depths=(1,), num_heads=(1,)), out_indices=(0,),
                         drop_path_rate=0.0, **kw).eval()
    x = torch.randn(1, 3, 4 * 28, 4 * 28)  # 28x28 map: 4x4 windows of 7x7
    y = x.clone()
    y[..., -8:, -8:] += 1.0  # changes only tokens of the bottom-right window
    with torch.no_grad():
        return m(x)[0], m(y)[0]


def test_pooled_neighbourhood_is_local():
    """3x3 pooled windows around each window (zero and masked outside the map): the bottom-right
    window reaches its pooled neighbour (2, 2) but not the top-left window."""
    a, b = _corner_change(expand_sizes=(0,), focal_windows=(3,), focal_levels=(2,))
    torch.testing.assert_close(a[..., :7, :7], b[..., :7, :7])
    assert not torch.allclose(a[..., 14:21, 14:21], b[..., 14:21, 14:21])


def test_expanded_keys_wrap_around_like_the_official_rolls():
    """The official code takes the fine neighbours from cyclically rolled maps, so the top-left
    window sees the bottom-right corner; reproduced (the released models were trained this way)."""
    a, b = _corner_change(expand_sizes=(3,), focal_levels=(1,), focal_windows=(1,))
    assert not torch.allclose(a[..., :7, :7], b[..., :7, :7])
    torch.testing.assert_close(a[..., 7:14, 7:14], b[..., 7:14, 7:14])  # window (1, 1) is out of reach


@pytest.mark.parametrize('pool', ['conv', 'mean', 'max', 'none'])
def test_other_pool_methods(pool):
    m = FocalTransformer(SMALL, focal_pool=pool, expand_layer='even').eval()
    has_pool = m.layers[0].blocks[0].pool_layers
    assert len(has_pool) == (1 if pool == 'conv' else 0)
    with torch.no_grad():
        assert all(torch.isfinite(o).all() for o in m(torch.randn(1, 3, 45, 70)))


def test_frozen_stages():
    m = FocalTransformer(SMALL, frozen_stages=1)
    assert m.train() is m
    for mod in (m.patch_embed, m.layers[0], m.norm0):
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    assert m.layers[1].training and all(p.requires_grad for p in m.layers[1].parameters())


def test_official_checkpoint_file_loads(tmp_path, official):
    """{'model': ...} with the official derived buffers (index tables, valid_ind_rolled) and head."""
    sd = dict(official['state_dict'])
    ref = FocalTransformer(SMALL)
    for name, mod in ref.named_modules():
        if name.endswith('.attn'):
            sd[f'{name}.relative_position_index'] = torch.zeros(49, 49, dtype=torch.long)
            sd[f'{name}.relative_position_index_0'] = torch.zeros(49, 1, dtype=torch.long)
            if mod.expand_size:
                sd[f'{name}.valid_ind_rolled'] = torch.zeros(132, dtype=torch.long)
    path = tmp_path / 'focal-tiny-is224-ws7.pth'
    torch.save({'model': sd}, path)
    m = FocalTransformer(SMALL, drop_path_rate=0.0, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    m.init_weights()
    m.eval()
    got = m.state_dict()
    torch.testing.assert_close(got['norm3.weight'], sd['norm.weight'])
    torch.testing.assert_close(got['layers.0.blocks.0.attn.relative_position_bias_table_to_windows.0'],
                               sd['layers.0.blocks.0.attn.relative_position_bias_table_to_windows.0'])
    with torch.no_grad():
        out = m(_img(official['x_224']))[2]
    assert out.shape == (1, 32, 14, 14)


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match=r"unknown arch 'large'.*'base'.*'small'.*'tiny'"):
        FocalTransformer('large')
    with pytest.raises(ValueError, match='focal_level 3'):
        FocalTransformer(SMALL, focal_levels=(3, 3, 3, 3))
    with pytest.raises(ValueError, match='expand_layer'):
        FocalTransformer(SMALL, expand_layer='first')
    with pytest.raises(ValueError, match='focal_window must be odd'):
        FocalTransformer(SMALL, focal_windows=(7, 4, 3, 1))
    with pytest.raises(ValueError, match='one entry per stage'):
        FocalTransformer(SMALL, expand_sizes=(3, 3))


def test_registry_and_init():
    m = MODELS.build(dict(type='vitdense.FocalTransformer', arch=SMALL))  # whatever the default scope
    assert type(m) is FocalTransformer
    m.init_weights()
    attn = m.layers[0].blocks[0].attn
    assert attn.relative_position_bias_table.abs().sum() == 0  # zero-initialised as in the official code
    assert attn.relative_position_bias_table_to_neighbors.std() > 0


@pytest.mark.slow
def test_toy_mask_rcnn_focal_t_learns(tmp_path):
    import math

    import numpy as np

    from vitdense.testing import toy_training_run
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/focal/mask_rcnn_focal_t_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]), metrics
