"""TransNeXt fidelity: parameter counts of the official ImageNet models, equal features to the
official dense code given the same weights, any input size, freezing, checkpointing, loading.

No peer library implements TransNeXt. ``tests/data/transnext_official_small.pt`` holds the output
of the OFFICIAL dense backbone (DaiShiResearch/TransNeXt @ c8a99743b60ac94ac8d2bf66ffe164a440dcfe21,
``detection/maskrcnn/transnext_native.py``, mmdet imports stubbed) for a small custom arch
(embed_dims 16-24-32-48, depths 1-1-2-1, heads 1-2-2-3, mlp_ratios 8-8-4-4, sr 8-4-2-1, window 3,
LayerNorm eps 1e-6, ``img_size=96``, ``pretrain_size=64``) with seeded random weights: its
state_dict (official key names), three inputs (96x96 = ``img_size``, 75x103, 57x45) and the four
feature maps of each, with the position bias interpolated (``is_extrapolation=False``) and
extrapolated (``True``). Weights ``randomize_(seed=1, std=0.1)``, then ``temperature`` -> ``1 + 3 * t``;
inputs ``torch.manual_seed(11 / 12 / 13)`` + ``randn``. Regenerate: ``tools/fixtures/make_transnext_fixture.py``.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vitdense.backbones.transnext import (TransNeXt, convert_transnext_checkpoint, gather_cpb,
                                          interpolated_cpb, relative_coords_cpb)
from vitdense.testing import assert_features_close, randomize_

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, 'tests', 'data', 'transnext_official_small.pt')
SMALL = dict(embed_dims=(16, 24, 32, 48), depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 3))

# ImageNet-1k classifiers (backbone incl. the four stage norms + 1000-way head). The official
# README lists 12.8M / 28.2M / 49.7M / 89.7M; the exact counts are those of the official
# classification/transnext.py models transnext_{micro,tiny,small,base}() (counted by running it).
OFFICIAL_PARAMS = {'micro': 12_809_304, 'tiny': 28_258_960, 'small': 49_741_564, 'base': 89_721_496}


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = TransNeXt(arch)
    head = nn.Linear(m.num_features[-1], 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == OFFICIAL_PARAMS[arch]


def _fixture():
    return torch.load(DATA, weights_only=True)


@pytest.mark.parametrize('mode', ['interp', 'extrap'])
def test_equals_official_dense_code(mode):
    data = _fixture()
    m = TransNeXt(SMALL, img_size=96, pretrain_size=64, is_extrapolation=mode == 'extrap', drop_path_rate=0.0)
    m.load_state_dict(convert_transnext_checkpoint(data['state_dict']), strict=True)
    m.eval()
    for tag in 'abc':
        with torch.no_grad():
            outs = m(data[f'input_{tag}'])
        assert len(outs) == 4
        for i, o in enumerate(outs):
            ref = data[f'{mode}_{tag}_out{i}']
            assert o.shape == ref.shape
            # fp32 network vs. the official code (fused attention in stage 4): budget 1e-4 of the scale
            assert_features_close(o, ref)


def test_interpolation_equals_extrapolation_at_img_size():
    """At the configured resolution both bias modes are the same network."""
    a = randomize_(TransNeXt(SMALL, img_size=64, pretrain_size=64), seed=3).eval()
    b = TransNeXt(SMALL, img_size=64, pretrain_size=64, is_extrapolation=True).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for fa, fb in zip(a(x), b(x)):
            torch.testing.assert_close(fa, fb)
        # ...and differ elsewhere (the bias is interpolated, not regenerated)
        fa, fb = a(torch.randn(1, 3, 96, 80))[0], b(torch.randn(1, 3, 96, 80))[0]
    assert not torch.allclose(fa, fb)


@pytest.mark.parametrize('trained,actual', [((25, 25), (4, 6)), ((50, 50), (13, 17)), ((14, 14), (30, 19)),
                                            ((7, 7), (7, 7))])
def test_support_restricted_bias_equals_full_interpolation(trained, actual):
    """The bias is generated only for the training-resolution queries the bilinear resize reads;
    compare with the official recipe (full table, then two F.interpolate calls)."""
    sr = 2
    key_t = (trained[0] // sr, trained[1] // sr)
    key = (actual[0] // sr or 1, actual[1] // sr or 1)
    table, ih, iw = relative_coords_cpb(trained, key_t, (14, 14))
    mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    bias_table = mlp(table)
    full = gather_cpb(bias_table, ih, iw)  # (heads, Nq_t, Nk_t)
    heads, nq_t = full.shape[:2]
    ref = F.interpolate(full.reshape(heads, nq_t, *key_t), key, mode='bilinear')
    ref = ref.reshape(heads, nq_t, -1).transpose(-1, -2).reshape(heads, -1, *trained)
    ref = F.interpolate(ref, actual, mode='bilinear').reshape(heads, key[0] * key[1], -1).transpose(-1, -2)
    got = interpolated_cpb(bias_table, ih, iw, trained, key_t, actual, key)
    assert got.shape == ref.shape == (heads, actual[0] * actual[1], key[0] * key[1])
    # one bilinear resize vs. two of the same sizes in another channel layout: fp32 reordering only
    assert_features_close(got, ref, rel=1e-5)


def test_cpb_table_matches_official_unique_construction():
    """The separable coordinate table equals the official torch.unique over all (query, key) pairs."""
    q, k, p = (9, 7), (3, 2), (14, 14)
    table, ih, iw = relative_coords_cpb(q, k, p)
    aqh, aqw = torch.arange(q[0]).float(), torch.arange(q[1]).float()
    akh = F.adaptive_avg_pool1d(aqh[None], k[0])[0]
    akw = F.adaptive_avg_pool1d(aqw[None], k[1])[0]
    kh, kw = (t.reshape(-1) for t in torch.meshgrid(akh, akw, indexing='ij'))
    qh, qw = (t.reshape(-1) for t in torch.meshgrid(aqh, aqw, indexing='ij'))
    rel = torch.stack([(qh[:, None] - kh[None]) / (p[0] - 1) * 8,
                       (qw[:, None] - kw[None]) / (p[1] - 1) * 8], -1)
    uniq, idx = torch.unique(rel.view(-1, 2), return_inverse=True, dim=0)
    uniq = torch.sign(uniq) * torch.log2(uniq.abs() + 1.0) / math.log2(8)
    torch.testing.assert_close(table.reshape(-1, 2), uniq, atol=0, rtol=0)
    ours = (ih[:, None, :, None] * table.shape[1] + iw[None, :, None, :]).reshape(-1)
    assert torch.equal(ours, idx.view(-1))


@pytest.mark.parametrize('size', [(61, 93), (223, 317), (5, 3), (33, 17)])
@pytest.mark.parametrize('extrapolate', [False, True])
def test_any_input_size(size, extrapolate):
    m = TransNeXt(SMALL, img_size=128, is_extrapolation=extrapolate).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, *size))
    h, w = size
    for i, o in enumerate(outs):
        stride = 4 * 2 ** i
        assert o.shape[1] == SMALL['embed_dims'][i]
        assert o.shape[2:] == (-(-h // stride), -(-w // stride))  # ceil: nothing is cropped
        assert torch.isfinite(o).all()


def test_tiny_runs_at_an_odd_size():
    m = TransNeXt('tiny', img_size=128).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 61, 93))
    assert [tuple(o.shape[1:]) for o in outs] == [(72, 16, 24), (144, 8, 12), (288, 4, 6), (576, 2, 3)]


def test_out_indices_subset():
    m = randomize_(TransNeXt(SMALL), seed=1).eval()
    sub = TransNeXt(SMALL, out_indices=(1, 3)).eval()
    sub.load_state_dict(m.state_dict())
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        full, part = m(x), sub(x)
    assert len(part) == 2 and sub.out_channels == [24, 48]
    torch.testing.assert_close(part[0], full[1])
    torch.testing.assert_close(part[1], full[3])


def test_frozen_stages():
    m = TransNeXt(SMALL, frozen_stages=2)
    assert m.train() is m
    for mod in (m.patch_embed1, m.block1, m.norm1, m.patch_embed2, m.block2, m.norm2):
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    for mod in (m.patch_embed3, m.block3, m.norm3):
        assert mod.training and all(p.requires_grad for p in mod.parameters())
    m0 = TransNeXt(SMALL, frozen_stages=0)
    assert not any(p.requires_grad for p in m0.patch_embed1.parameters())
    assert all(p.requires_grad for p in m0.block1.parameters())


def _official_layout(sd):
    """Our weights as the official release names them (ConvGLU's DWConv wrapper)."""
    return {k.replace('.mlp.dwconv.', '.mlp.dwconv.dwconv.'): v for k, v in sd.items()}


def test_official_classification_checkpoint_loads(tmp_path):
    src = randomize_(TransNeXt(SMALL), seed=5)
    official = _official_layout(src.state_dict())
    official['head.weight'] = torch.randn(1000, 48)
    official['head.bias'] = torch.randn(1000)
    path = tmp_path / 'transnext_small_224_1k.pth'
    torch.save({'model': official}, path)
    dst = TransNeXt(SMALL, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(dst.state_dict()[k], v)


def test_official_dense_checkpoint_with_prefix_loads(tmp_path):
    src = randomize_(TransNeXt(SMALL), seed=6)
    path = tmp_path / 'mask_rcnn_transnext.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in _official_layout(src.state_dict()).items()},
                'meta': {}}, path)
    dst = TransNeXt(SMALL, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(src.eval()(x), dst.eval()(x)):
            torch.testing.assert_close(a, b)


def test_bad_arch_names_valid_ones():
    with pytest.raises(ValueError, match=r"unknown arch 'huge'.*'micro'.*'tiny'"):
        TransNeXt('huge')
    with pytest.raises(ValueError, match='missing'):
        TransNeXt(dict(embed_dims=(8, 16, 32, 64)))
    with pytest.raises(ValueError, match='out_indices'):
        TransNeXt(SMALL, out_indices=(4,))
    with pytest.raises(ValueError, match='odd'):
        TransNeXt(dict(SMALL, window_size=4))


def test_official_cuda_kernel_matches_pure_pytorch():
    """The swattention extension (official CUDA kernels) gives the pure-PyTorch result."""
    pytest.importorskip('swattention', reason='the official swattention CUDA extension is not installed')
    if not torch.cuda.is_available():
        pytest.skip('swattention is installed but no CUDA device is available')
    m = randomize_(TransNeXt(SMALL), seed=7).cuda().eval()
    x = torch.randn(2, 3, 75, 103, device='cuda')
    with torch.no_grad():
        kernel = m(x)
        for mod in m.modules():
            if hasattr(mod, 'use_kernel'):
                mod.use_kernel = False
        pure = m(x)
    for a, b in zip(kernel, pure):
        assert_features_close(a, b)


@pytest.mark.slow
def test_toy_mask_rcnn_transnext_micro_learns(tmp_path):
    from vitdense.testing import toy_training_run
    cfg = os.path.join(ROOT, 'configs/transnext/mask_rcnn_transnext_micro_toy.py')
    losses, metrics = toy_training_run(cfg, str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
