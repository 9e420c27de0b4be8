"""CMT fidelity: parameter counts of the official models, equal stage features to the official code
(no peer library implements CMT), the official checkpoint layout, the relative-position resize rule
and a toy detection run.

``tests/data/cmt_official_small.pt`` was written by ``tools/fixtures/make_cmt_fixture.py`` from
huawei-noah/Efficient-AI-Backbones at commit f90e129b645c3b1684fe07cd361cd557d0ad71f7: its
``cmt_pytorch/cmt.py`` (the only model code released; last changed in 22110286), imported unchanged
but for stand-ins of the three timm 0.3 module paths it imports (``timm.models.helpers``,
``timm.models.layers``, ``timm.models.registry``; see the script). Class ``CMT`` with a small custom
arch (``arch``: tables for img_size 64, embed_dims 8-16-24-32, stem 8, depths 1-1-2-1, heads
1-2-2-4, MLP ratio 3.6, sr ratios 8-4-2-1, 10 classes, fc_dim 32), seeded random weights
(``vitdense.testing.randomize_``, seed 0, BatchNorm statistics and the position tables included)
rounded to fp16 values, eval mode. Entries: ``arch``; ``state_dict`` (the official one, fp16,
classifier included; both sides run on its fp32 cast); uint8 images from a generator seeded 1,
normalised as ``(x / 255 - 0.45) / 0.25``: ``x_64`` (1x3x64x64: the tables as they are), ``x_96``
(1x3x96x96) and ``x_96x32`` (1x3x96x32, height x width), the last two run by the official model
built for that size with the 64 px tables resized by the rule of ``vitdense/backbones/cmt.py``;
``feats_*``, the output of each stage's last block (forward hooks, tokens as NCHW maps). The
official code runs only at the size it was built for (a multiple of 32 per side); odd sizes are our
extension (zero padding, checked by the backbone contract test). The official code itself is not
part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.cmt import CMT, convert_cmt_checkpoint, resize_cmt_relative_pos
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'cmt_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('64', '96', '96x32')

# Parameters of the ImageNet classifiers as released (backbone + 1x1 conv to 1280 + BN + 1000-way
# head), counted by building cmt_ti / cmt_xs / cmt_s / cmt_b of the official cmt_pytorch/cmt.py at
# commit f90e129 at their training sizes 160 / 192 / 224 / 256 (the position tables depend on it).
OFFICIAL_PARAMS = {'tiny': 9_492_426, 'xsmall': 15_247_208, 'small': 26_256_160, 'base': 45_715_076}
FC_DIM = 1280


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _arch(official):
    a = official['arch']
    return dict(embed_dims=tuple(a['embed_dims']), depths=tuple(a['depths']), num_heads=tuple(a['num_heads']),
                mlp_ratios=tuple(a['mlp_ratios']), stem_channels=a['stem_channel'], sr_ratios=tuple(a['sr_ratios']))


def _small(official, **kw):
    kw.setdefault('img_size', official['arch']['img_size'])
    return CMT(_arch(official), out_norm=False, **kw)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = CMT(arch, out_norm=False)
    c = m.num_features[-1]
    head = c * FC_DIM + FC_DIM + 2 * FC_DIM + FC_DIM * 1000 + 1000  # _fc, _bn, head
    assert sum(p.numel() for p in m.parameters()) + head == OFFICIAL_PARAMS[arch]


def test_arch_zoo_training_sizes_and_aliases():
    assert [CMT(a).img_size for a in ('ti', 'xs', 's', 'b')] == [160, 192, 224, 256]
    assert CMT('ti', img_size=224).stages[0].relative_pos.shape == (1, 56 * 56, 7 * 7)
    with pytest.raises(ValueError, match='multiple of 32'):
        CMT('ti', img_size=100)


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs(official, size):
    ours = _small(official).eval()
    ours.load_state_dict(convert_cmt_checkpoint(official['state_dict']), strict=True)
    x = _img(official[f'x_{size}'])
    with torch.no_grad():
        outs = ours(x)
    H, W = x.shape[-2:]
    for i, (got, exp) in enumerate(zip(outs, official[f'feats_{size}'])):
        s = 4 * 2 ** i
        assert got.shape == exp.shape == (1, ours.num_features[i], math.ceil(H / s), math.ceil(W / s))
        assert_features_close(got, exp)


def test_fixture_is_sensitive_to_the_position_tables(official, monkeypatch):
    """Without the relative position bias, or with its query/key resize in the other order or with
    height and width swapped, the official outputs are not reached."""
    ours = _small(official).eval()
    ours.load_state_dict(convert_cmt_checkpoint(official['state_dict']), strict=True)
    x, ref = _img(official['x_96x32']), official['feats_96x32']
    for stage in ours.stages:
        monkeypatch.setattr(stage, 'position_bias', lambda hw, s=stage: torch.zeros_like(
            resize_cmt_relative_pos(s.relative_pos, hw, (-(-hw[0] // s.sr_ratio), -(-hw[1] // s.sr_ratio)))))
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(ours(x)[3], ref[3])
    monkeypatch.undo()
    for stage in ours.stages:
        monkeypatch.setattr(stage, 'position_bias', lambda hw, s=stage: resize_cmt_relative_pos(
            s.relative_pos, hw[::-1], (-(-hw[1] // s.sr_ratio), -(-hw[0] // s.sr_ratio))))
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(ours(x)[3], ref[3])


def test_official_release_loads_through_init_cfg_and_resizes_tables(official, tmp_path):
    """An official release file ({'model': ...}, classifier included) loads into a model whose tables
    are sized for another resolution: they are resized once on load by the same rule, so at that
    resolution the outputs are the official ones."""
    path = tmp_path / 'cmt_small.pth'
    torch.save({'model': official['state_dict']}, path)
    ours = _small(official, img_size=96, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    assert ours.stages[0].relative_pos.shape == (1, 24 * 24, 3 * 3)
    with torch.no_grad():
        outs = ours(_img(official['x_96']))
    for got, exp in zip(outs, official['feats_96']):
        assert_features_close(got, exp)


def test_converter_maps_official_names_and_keeps_our_format(official):
    sd = official['state_dict']
    conv = convert_cmt_checkpoint(sd)
    assert not any(k.startswith(('_fc', '_bn', 'head')) for k in conv)
    assert torch.equal(conv['stem.conv2.weight'], sd['stem_conv2.weight'])
    assert torch.equal(conv['stages.1.downsample.norm.bias'], sd['patch_embed_b.norm.bias'])
    assert torch.equal(conv['stages.3.relative_pos'], sd['relative_pos_d'])
    assert torch.equal(conv['stages.2.blocks.1.lpu.weight'], sd['blocks_c.1.proj.weight'])
    assert torch.equal(conv['stages.2.blocks.1.mlp.dw.weight'], sd['blocks_c.1.mlp.proj.weight'])
    assert torch.equal(conv['stages.0.blocks.0.mlp.norm3.running_var'], sd['blocks_a.0.mlp.conv2.1.running_var'])
    assert torch.equal(conv['stages.0.blocks.0.attn.sr.0.weight'], sd['blocks_a.0.attn.sr.0.weight'])
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_cmt_checkpoint(ours)
    assert list(again) == list(ours) and all(again[k] is ours[k] for k in ours)


def test_resize_rule():
    """Identity at the table's own grids; otherwise keys then queries, bicubic, per side."""
    t = torch.randn(2, 8 * 8, 4 * 4)
    assert torch.equal(resize_cmt_relative_pos(t, (8, 8), (4, 4)), t)
    r = resize_cmt_relative_pos(t, (5, 3), (2, 1))
    assert r.shape == (2, 15, 2)
    const = torch.full((1, 16, 4), 0.7)
    assert torch.allclose(resize_cmt_relative_pos(const, (7, 5), (3, 2)), torch.full((1, 35, 6), 0.7), atol=1e-6)
    with pytest.raises(ValueError, match='not square'):
        resize_cmt_relative_pos(torch.zeros(1, 12, 4), (3, 4), (2, 2))


def test_odd_sizes_pad_and_keep_every_pixel():
    """Odd maps are padded before every 2x2/2 embedding and before the key/value reduction: the
    output grids are ceil(H / s), and a change in the last input row/column reaches stage 0."""
    m = randomize_(CMT(dict(embed_dims=(8, 16, 24, 32), depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4),
                            mlp_ratios=(2, ) * 4, stem_channels=8), img_size=64), seed=1).eval()
    x = torch.randn(1, 3, 37, 21)
    with torch.no_grad():
        outs = m(x)
        y = x.clone()
        y[..., -1, -1] += 5
        moved = m(y)[0]
    assert [tuple(o.shape[-2:]) for o in outs] == [(10, 6), (5, 3), (3, 2), (2, 1)]
    assert not torch.allclose(moved, outs[0])


@pytest.mark.slow
def test_toy_mask_rcnn_cmt_tiny_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/cmt/mask_rcnn_cmt_tiny_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
