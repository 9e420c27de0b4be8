"""BiFormer fidelity: parameter counts of the official classifiers, equal features / logits to the
official code given the same weights, any input size, freezing, checkpointing, gradients, loading.

No peer library implements BiFormer. ``tests/data/biformer_official_small.pt`` was made by running
the official code (rayleizhu/BiFormer at commit 1697bbbeafb8680524898f1dcaac10defd0604be:
``models/biformer.py`` + ``ops/bra_legacy.py`` for the classifier, and the detection wrapper
``object_detection/models_mm/biformer_mm.py`` with ``auto_pad=True`` for the dense model, only its
mmcv/mmdet imports stubbed) on a small custom arch (embed_dim 16-32-48-64, depth 1-1-2-1,
head_dim 16, mlp_ratio 3, topks 1-4-16-full) with seeded random weights
(``vitdense.testing.randomize_``, BatchNorm statistics included). It holds the official
classifier's state_dict (official key names), the random weights of the dense ``extra_norms``, the
classifier's logits for a 1x3x112x112 input (n_win 7) and the dense model's four feature maps
(n_win 4) for a 2x3x64x64 input and for a 1x3x50x75 input, whose maps need padding to the regions
inside every routing attention. Seeds: weights 11, ``extra_norms[i]`` 100 + i, inputs one generator
seeded 5 (x_cls, x_a, x_b in that order). Regenerate: ``tools/fixtures/make_biformer_fixture.py``.
"""
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vitdense.backbones.biformer import BiFormer, convert_biformer_checkpoint
from vitdense.testing import assert_features_close, randomize_

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, 'tests', 'data', 'biformer_official_small.pt')
SMALL = dict(embed_dims=(16, 32, 48, 64), depths=(1, 1, 2, 1), head_dim=16)

# ImageNet-1k classifiers (backbone + final BatchNorm + 1000-way head). The official README lists
# 13.1M / 25.5M / 56.8M; the exact counts are those of the official model definitions
# (models/biformer.py, biformer_tiny/small/base), counted by running that code.
OFFICIAL_PARAMS = {'tiny': 13_142_760, 'small': 25_536_232, 'base': 56_804_968}


@pytest.fixture(scope='module')
def official():
    return torch.load(FIXTURE, weights_only=True)


def _dense_sd(official):
    sd = {k: v for k, v in official['cls_state_dict'].items() if not k.startswith(('norm.', 'head.'))}
    sd.update(official['extra_norms'])
    return sd


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = BiFormer(arch, out_indices=(3,), out_norm='bn')  # the classifier's final norm is a BatchNorm
    head = nn.Linear(m.num_features[-1], 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == OFFICIAL_PARAMS[arch]


@pytest.mark.parametrize('which', ['a', 'b'])
def test_dense_features_equal_official(official, which):
    ours = BiFormer(SMALL, n_win=4).eval()
    ours.load_state_dict(convert_biformer_checkpoint(_dense_sd(official)), strict=True)
    with torch.no_grad():
        got = ours(official[f'x_{which}'])
    assert len(got) == 4
    for g, r in zip(got, official[f'feats_{which}']):
        assert g.shape == r.shape
        # fp32 network vs. the official code (SDPA vs. explicit softmax): budget 1e-4 of the scale
        assert_features_close(g, r)


def test_classifier_logits_equal_official(official):
    sd = official['cls_state_dict']
    ours = BiFormer(SMALL, n_win=7, out_indices=(3,), out_norm='bn').eval()
    ours.load_state_dict(convert_biformer_checkpoint(sd), strict=True)
    with torch.no_grad():
        feat = ours(official['x_cls'])[0]
    logits = F.linear(feat.flatten(2).mean(-1), sd['head.weight'], sd['head.bias'])
    assert_features_close(logits, official['logits'])


def test_official_checkpoint_files_load_through_init_cfg(official, tmp_path):
    """The ImageNet release layout ({'model': ...}) and an official Mask R-CNN checkpoint
    ({'state_dict': {'backbone.*': ...}}) both load through init_cfg=Pretrained."""
    cls_path, det_path = tmp_path / 'biformer_small_in1k.pth', tmp_path / 'maskrcnn.pth'
    torch.save({'model': official['cls_state_dict']}, cls_path)
    det = {'backbone.' + k: v for k, v in _dense_sd(official).items()}
    torch.save({'state_dict': det, 'meta': {}}, det_path)

    dense = BiFormer(SMALL, n_win=4, init_cfg=dict(type='Pretrained', checkpoint=str(det_path)))
    dense.init_weights()
    with torch.no_grad():
        for g, r in zip(dense.eval()(official['x_b']), official['feats_b']):
            assert_features_close(g, r)

    # ImageNet weights into the dense model: everything but the output norms, which start fresh
    # (the classifier's BatchNorm is not loaded into a LayerNorm), as the official dense code does.
    fresh = BiFormer(SMALL, n_win=4)
    result = fresh.load_pretrained(str(cls_path))
    assert sorted(result.missing_keys) == sorted(f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias'))
    assert result.unexpected_keys == []
    torch.testing.assert_close(fresh.norm3.weight, torch.ones(64))
    own = fresh.state_dict()
    for k, v in convert_biformer_checkpoint(official['cls_state_dict']).items():
        if not k.startswith('norm3.'):
            torch.testing.assert_close(own[k], v, msg=k)

    classifier = BiFormer(SMALL, out_indices=(3,), out_norm='bn',
                          init_cfg=dict(type='Pretrained', checkpoint=str(cls_path)))
    classifier.init_weights()
    torch.testing.assert_close(classifier.norm3.running_var, official['cls_state_dict']['norm.running_var'])


@pytest.mark.parametrize('size', [(61, 93), (223, 317), (5, 3)])
def test_any_input_size_detection_setting(size):
    """n_win=16 as the official COCO configs: every map is padded to 16 regions per side inside the
    routing attention; outputs follow ceil(H / stride), nothing is cropped."""
    m = BiFormer('tiny', n_win=16).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, *size))
    h, w = size
    for i, o in enumerate(outs):
        stride = 4 * 2 ** i
        assert o.shape[1:] == (m.num_features[i], -(-h // stride), -(-w // stride))
        assert torch.isfinite(o).all()


def test_batch_items_are_independent():
    """Region routing and the gather are per image: an image gives the same features alone and
    inside a batch."""
    m = randomize_(BiFormer(SMALL, n_win=4), seed=3).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        batch = m(x)
        single = m(x[1:2])
    for a, b in zip(batch, single):
        assert_features_close(a[1:2], b)


@pytest.mark.parametrize('out_indices', [(0,), (1, 3), (-1,)])
def test_out_indices_subsets(out_indices):
    m = BiFormer(SMALL, out_indices=out_indices).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 64, 64))
    idx = [i % 4 for i in out_indices]
    assert [o.shape[1] for o in outs] == [SMALL['embed_dims'][i] for i in idx]
    assert m.out_channels == [SMALL['embed_dims'][i] for i in idx]
    assert not hasattr(m, 'norm2') or 2 in idx


def test_frozen_stages_and_norm_eval():
    m = BiFormer(SMALL, frozen_stages=2, norm_eval=True)
    assert m.train() is m
    frozen = [m.downsample_layers[0], m.stages[0], m.norm0, m.downsample_layers[1], m.stages[1], m.norm1,
              m.downsample_layers[2]]
    for mod in frozen:
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    assert m.stages[2].training and all(p.requires_grad for p in m.stages[2].parameters())
    assert all(p.requires_grad for p in m.downsample_layers[3].parameters())
    # norm_eval: the downsampling BatchNorms stay in eval mode (still trainable), the rest trains
    assert not m.downsample_layers[3][1].training and m.downsample_layers[3][1].weight.requires_grad
    assert m.stages[3].training


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match=r"unknown arch 'huge'.*'base'.*'tiny'"):
        BiFormer('huge')
    with pytest.raises(ValueError, match='missing'):
        BiFormer(dict(embed_dims=(64, 128, 256, 512)))
    with pytest.raises(ValueError, match='out_indices'):
        BiFormer('tiny', out_indices=(4,))
    with pytest.raises(ValueError, match=r'topk=16 must lie in \[1, n_win\*\*2=9\]'):
        BiFormer('tiny', n_win=3)
    with pytest.raises(ValueError, match='out_norm'):
        BiFormer('tiny', out_norm='gn')


def test_random_init_of_the_official_code():
    m = randomize_(BiFormer(SMALL)).requires_grad_(False)
    m.init_weights()
    assert all(float(b.attn.qkv.bias.abs().max()) == 0.0 for b in m.stages[0])
    assert torch.equal(m.stages[1][0].norm1.weight, torch.ones(32))
    assert torch.equal(m.norm3.bias, torch.zeros(64))
    assert 0.01 < float(m.stages[2][0].mlp.fc1.weight.std()) < 0.03


@pytest.mark.slow
def test_toy_mask_rcnn_biformer_t_learns(tmp_path):
    import math

    import numpy as np

    from vitdense.testing import toy_training_run
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/biformer/mask_rcnn_biformer_t_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
