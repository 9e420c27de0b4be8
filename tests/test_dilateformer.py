"""DilateFormer fidelity: parameter counts of the official models, equal stage features to the
official code (no peer library implements DilateFormer), MSDA's border rule (zero-padded keys stay
in the softmax, as the official ``nn.Unfold`` has it), the official checkpoint layout and a toy
detection run.

``tests/data/dilateformer_official_small.pt`` was written by
``tools/fixtures/make_dilateformer_fixture.py`` from JIAOJIAYUASD/dilateformer at commit
99f85bb40a8d4395183a903e7604499dd5f24f8e: its ``models/dilateformer.py`` imported unchanged (no
stand-ins), the classifier ``Dilateformer`` with the defaults of every released model (overlapping
4-conv stem, MSDA 3x3 with dilations 1-2-3 in stages 1-2, global attention in stages 3-4, ``conv3_2``
downsampling, per-block depth-wise position conv, qkv biases), a small custom arch (embed_dim 6:
widths 6-12-24-48, depths 1-2-2-1, heads 3-6-3-6), ``num_classes=10``, seeded random weights
(``vitdense.testing.randomize_``, seed 0, std 0.1, BatchNorm statistics included; then every
attention ``qkv`` weight and bias x5, so that the attention maps are far from uniform) rounded to
fp16 values, eval mode; the stem's fixed-size assertion met by setting ``patch_embed.img_size`` to
the input's size. Entries: ``arch``; ``state_dict`` (the official layout, fp16, ``head`` included;
both sides run on its fp32 cast); ``x_48`` (1x3x48x48) and ``x_47x33`` (1x3x47x33) uint8 images
(generator seed 1), normalised as ``(x / 255 - 0.45) / 0.25``; ``feats_*``, the raw output of each
stage's last block (before its downsampling conv; forward hooks); ``norm_*``, the official final
LayerNorm on the last stage's tokens, as a map. The official code itself is not part of this
repository.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vitdense.backbones import dilateformer as dilateformer_module
from vitdense.backbones.dilateformer import (DilateFormer, MultiDilatelocalAttention, convert_dilateformer_checkpoint,
                                             dilated_local_attention)
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'dilateformer_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('48', '47x33')  # 47x33: odd sides; stage maps 12x9, 6x5, 3x3, 2x2 (dilation 3 mostly off the map)

# Parameters of the ImageNet classifiers (backbone + final LayerNorm + 1000-way linear head),
# counted by building dilateformer_tiny / _small / _base of the official models/dilateformer.py at
# commit 99f85bb locally.
OFFICIAL_PARAMS = {'tiny': 17_238_744, 'small': 24_057_504, 'base': 47_432_376}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    a = official['arch']
    arch = dict(embed_dims=tuple(a['embed_dim'] * 2 ** i for i in range(4)), depths=tuple(a['depths']),
                num_heads=tuple(a['num_heads']))
    return DilateFormer(arch, drop_path_rate=0.0, **kw)


def _loaded(official, **kw):
    m = _small(official, **kw).eval()
    m.load_state_dict(convert_dilateformer_checkpoint(official['state_dict']), strict=False)
    return m


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = DilateFormer(arch, out_indices=(3, ))  # norm3 has the shape of the classifier's final norm
    c = m.num_features[-1]
    assert sum(p.numel() for p in m.parameters()) + c * 1000 + 1000 == OFFICIAL_PARAMS[arch]
    assert DilateFormer(arch[0]).num_features == DilateFormer(arch).num_features


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs_raw_and_normed(official, size):
    raw = _small(official, out_norm=False).eval()
    result = raw.load_state_dict(convert_dilateformer_checkpoint(official['state_dict']), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ['norm3.weight', 'norm3.bias']
    last = _loaded(official, out_indices=(3, ))
    x = _img(official[f'x_{size}'])
    with torch.no_grad():
        outs, (normed, ) = raw(x), last(x)
    H, W = x.shape[-2:]
    for i, (got, ref) in enumerate(zip(outs, official[f'feats_{size}'])):
        s = 4 * 2 ** i
        assert got.shape == ref.shape == (1, raw.num_features[i], math.ceil(H / s), math.ceil(W / s))
        assert_features_close(got, ref)
    assert_features_close(normed, official[f'norm_{size}'])


def _unfold_reference(q, k, v, dilation, kernel_size=3, scale=1.0, masked=False):
    """MSDA written as the official code computes it (``nn.Unfold`` with zero padding); with
    ``masked`` the off-map keys are left out of the softmax instead."""
    B, h, d, H, W = q.shape
    pad = dilation * (kernel_size - 1) // 2
    def unfold(t):  # (B, h, c, H, W) -> (B, h, c, K*K, H*W)
        return F.unfold(t.flatten(1, 2), kernel_size, dilation, pad).reshape(B, h, t.shape[2], -1, H * W)

    scores = torch.einsum('bhdn,bhdkn->bhkn', q.reshape(B, h, d, H * W), unfold(k)) * scale
    if masked:
        inside = unfold(torch.ones(B, h, 1, H, W))[:, :, 0] > 0
        scores = scores.masked_fill(~inside, float('-inf'))
    return torch.einsum('bhkn,bhdkn->bhdn', scores.softmax(2), unfold(v)).reshape(B, h, d, H, W)


@pytest.mark.parametrize('dilation,size', [(1, (5, 7)), (2, (6, 3)), (3, (9, 11)), (3, (2, 4))])
def test_msda_equals_unfold_with_zero_padded_keys(dilation, size):
    g = torch.Generator().manual_seed(dilation)
    q, k, v = (2 * torch.randn((2, 3, 4) + size, generator=g) for _ in range(3))
    got = dilated_local_attention(q, k, v, dilation, scale=0.5)
    assert_features_close(got, _unfold_reference(q, k, v, dilation, scale=0.5))
    with pytest.raises(AssertionError, match='exceeds budget'):  # padded keys do take part
        assert_features_close(got, _unfold_reference(q, k, v, dilation, scale=0.5, masked=True))


def test_fixture_is_sensitive_to_the_border_rule_and_dilation_order(official, monkeypatch):
    """Masking the off-map keys out of the softmax, or giving the groups their dilations in
    another order, breaks the equality with the official features."""
    x, ref = _img(official['x_47x33']), official['feats_47x33']
    raw = _loaded(official, out_norm=False)

    def masked(q, k, v, dilation, kernel_size=3, scale=1.0, attn_drop=None):
        return _unfold_reference(q, k, v, dilation, kernel_size, scale, masked=True)

    with monkeypatch.context() as mp:
        mp.setattr(dilateformer_module, 'dilated_local_attention', masked)
        with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
            assert_features_close(raw(x)[0], ref[0])
    for stage in raw.stages[:2]:
        for blk in stage.blocks:
            blk.attn.dilation = (3, 2, 1)
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(raw(x)[0], ref[0])


def test_official_classifier_checkpoint_loads_through_init_cfg(official, tmp_path):
    """The official release is ``{'model': state_dict}`` with the classifier: the final ``norm``
    becomes ``norm3``, ``head`` is dropped, and the last normed output is the official one."""
    path = tmp_path / 'dilateformer_small.pth'
    torch.save({'model': official['state_dict'], 'epoch': 300}, path)
    ours = _small(official, out_indices=(3, ), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        (out, ) = ours(_img(official['x_48']))
    assert_features_close(out, official['norm_48'])
    assert set(convert_dilateformer_checkpoint(official['state_dict'])) == set(ours.state_dict())


def test_converter_maps_official_names_and_keeps_our_format(official):
    conv = convert_dilateformer_checkpoint(official['state_dict'])
    assert not any(k.startswith(('head.', 'norm.')) for k in conv)
    assert torch.equal(conv['norm3.weight'], official['state_dict']['norm.weight'])
    assert 'stages.0.blocks.0.attn.qkv.weight' in conv and 'stages.2.downsample.proj.1.running_var' in conv
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_dilateformer_checkpoint(ours)
    assert list(again) == list(ours) and all(again[k] is ours[k] for k in ours)


def test_structure_and_options():
    """MSDA in stages 1-2 (3 dilation groups), global attention after; stem of four 3x3 convs;
    heads must split into the dilation groups; attention dropout acts in training only."""
    m = DilateFormer('tiny')
    assert isinstance(m.stages[1].blocks[1].attn, MultiDilatelocalAttention)
    assert not isinstance(m.stages[2].blocks[0].attn, MultiDilatelocalAttention)
    assert [c.stride for c in m.patch_embed.proj if isinstance(c, torch.nn.Conv2d)] == [(1, 1), (2, 2), (1, 1),
                                                                                          (2, 2)]
    with pytest.raises(ValueError, match='dilation'):
        DilateFormer(dict(embed_dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), num_heads=(2, 4, 4, 8)))
    attn = randomize_(MultiDilatelocalAttention(12, 6, attn_drop=0.5), seed=1)
    x = torch.randn(1, 5, 4, 12)
    with torch.no_grad():
        a, b = attn.eval()(x), attn.eval()(x)
        c = attn.train()(x)
    assert torch.equal(a, b) and not torch.allclose(a, c)


@pytest.mark.slow
def test_toy_mask_rcnn_dilateformer_tiny_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/dilateformer/mask_rcnn_dilateformer_tiny_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
