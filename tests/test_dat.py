"""DAT (CVPR'22) and DAT++ fidelity: parameter counts of the official ImageNet models, equal
features to the official code given the same weights, neighborhood attention equal to NATTEN's
rules, any input size, freezing, checkpointing, loading.

No peer library implements DAT. The fixtures were produced by running the OFFICIAL code locally on
small custom archs with seeded random weights (official key names, inputs, outputs):

* ``tests/data/dat_official_small.pt``: LeapLabTHU/DAT @ 566a593 (the CVPR'22 release,
  ``models/dat.py``), dims 8-16-32-64, heads 1-2-4-4, stage_spec LS-LS-LD-LD, windows 4-4-2-2,
  groups -,-,2,4, rpe in stages 3-4, offset range factor 2, ``img_size=64``; a 64x64 input (that
  classification code runs only at its ``img_size``), the four raw stage outputs and ``cls_norm``
  of the last.
* ``tests/data/datpp_official_small.pt``: LeapLabTHU/DAT-Detection @ 4d4023d (the DAT++ dense
  backbone, ``models/backbones/dat.py``; mmcv/mmdet imports stubbed), dims 8-16-32-64, heads
  1-2-4-4, groups 1-1-2-4, stage_spec ND-ND-ND-DD, strides 8-4-2-1, conv patches, conv MLPs, LPUs,
  NA kernel 7, ``img_size=64``; 64x96 and 45x71 inputs and the four normalised outputs. NATTEN
  (not installable here) was replaced by naive loops transliterated from NATTEN 0.14.6's CPU
  kernels (``natten2dqkrpb_cpu_kernel.cpp``, ``natten2dav_cpu_kernel.cpp``,
  ``natten_cpu_commons.h``); the maps cover windows shifted at the borders and maps smaller than
  the kernel (padded).

Both: ``randomize_(std=0.1)``, weight seeds 1 (DAT) / 2 (DAT++), inputs seeded 21 (DAT) / 31, 32 (DAT++).
Regenerate: ``tools/fixtures/make_dat_fixture.py --variant dat|datpp``.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.dat import DAT, DATPlusPlus, convert_dat_checkpoint
from vitdense.layers.neighborhood import NeighborhoodAttention2d, neighborhood_attention_2d
from vitdense.testing import assert_features_close, randomize_

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
V1_DATA = os.path.join(ROOT, 'tests', 'data', 'dat_official_small.pt')
PP_DATA = os.path.join(ROOT, 'tests', 'data', 'datpp_official_small.pt')
V1_SMALL = dict(dims=(8, 16, 32, 64), heads=(1, 2, 4, 4), groups=(-1, -1, 2, 4),
                stage_spec=('LS', 'LS', 'LD', 'LD'), window_sizes=(4, 4, 2, 2))
PP_SMALL = dict(dims=(8, 16, 32, 64), heads=(1, 2, 4, 4), groups=(1, 1, 2, 4),
                stage_spec=('ND', 'ND', 'ND', 'DD'))
CLASSES = {'dat': DAT, 'datpp': DATPlusPlus}
SMALL = {'dat': V1_SMALL, 'datpp': PP_SMALL}

# ImageNet-1k classifiers (backbone + cls_norm + 1000-way head). The papers give DAT-T/S/B 29M/50M/
# 88M and DAT++-T/S/B 24M/53M/94M; the exact counts are those of the official models built from the
# official configs (configs/dat_{tiny,small,base}.yaml) with models/dat.py of LeapLabTHU/DAT @ 566a593
# (DAT) and @ 32173fc (DAT++), counted by running them.
OFFICIAL_PARAMS = {
    (DAT, 'tiny'): 28_319_138, (DAT, 'small'): 49_700_402, (DAT, 'base'): 87_881_632,
    (DATPlusPlus, 'tiny'): 23_962_876, (DATPlusPlus, 'small'): 53_127_366, (DATPlusPlus, 'base'): 93_690_640,
}


@pytest.mark.parametrize('cls,arch', sorted(OFFICIAL_PARAMS, key=lambda k: (k[0].__name__, k[1])),
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_param_count_equals_official(cls, arch):
    m = cls(arch, out_indices=(3, ))  # the classifier has one norm, on the last stage
    head = nn.Linear(m.num_features[-1], 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == OFFICIAL_PARAMS[(cls, arch)]


def test_dat_equals_official_cvpr22_code():
    data = torch.load(V1_DATA, weights_only=True)
    sd = convert_dat_checkpoint(data['v1_state_dict'])
    raw = DAT(V1_SMALL, img_size=64, out_norm=False, drop_path_rate=0.0).eval()
    raw.load_state_dict({k: v for k, v in sd.items() if not k.startswith('norms.')}, strict=True)
    cls = DAT(V1_SMALL, img_size=64, out_indices=(3, ), drop_path_rate=0.0).eval()
    cls.load_state_dict(sd, strict=True)  # cls_norm became the last stage's output norm
    with torch.no_grad():
        outs = raw(data['v1_input'])
        last = cls(data['v1_input'])[0]
    for i, o in enumerate(outs):
        # fp32 network vs. the official code (SDPA vs. einsum + softmax): budget 1e-4 of the scale
        assert_features_close(o, data[f'v1_stage{i}'])
    assert_features_close(last, data['v1_cls_norm'])


def test_datpp_equals_official_dense_code():
    data = torch.load(PP_DATA, weights_only=True)
    m = DATPlusPlus(PP_SMALL, img_size=64, drop_path_rate=0.0).eval()
    m.load_state_dict(convert_dat_checkpoint(data['pp_state_dict']), strict=True)
    for tag in 'ab':
        with torch.no_grad():
            outs = m(data[f'pp_input_{tag}'])
        for i, o in enumerate(outs):
            ref = data[f'pp_{tag}_out{i}']
            assert o.shape == ref.shape
            assert_features_close(o, ref)  # fp32 vs. the official code: 1e-4 of the scale


# ----------------------------------------------------------------------------- neighborhood attention

def _natten_window_start(i, n, k, d):
    """NATTEN 0.14.6 ``get_window_start`` / ``get_pb_start`` (natten_cpu_commons.h), per index."""
    nb = k // 2
    if d <= 1:
        start = max(i - nb, 0) + (i + nb >= n) * (n - i - nb - 1)
        pb = nb + (i < nb) * (nb - i) + (i + nb >= n) * (n - i - 1 - nb)
        return start, pb
    if i - nb * d < 0:
        start = i % d
    elif i + nb * d >= n:
        imodd, a = i % d, (n // d) * d
        b = n - a
        start = n - b + imodd - 2 * nb * d if imodd < b else a + imodd - k * d
    else:
        start = i - nb * d
    if i - nb * d < 0:
        pb = k - 1 - i // d
    elif i + nb * d >= n:
        pb = (n - i - 1) // d
    else:
        pb = nb
    return start, pb


def _naive_na(q, k, v, rpb, ks, dil):
    B, h, H, W, _ = q.shape
    out = torch.zeros_like(v)
    for i in range(H):
        ni, pi = _natten_window_start(i, H, ks, dil)
        for j in range(W):
            nj, pj = _natten_window_start(j, W, ks, dil)
            logits, vals = [], []
            for a in range(ks):
                for b in range(ks):
                    y, x = ni + a * dil, nj + b * dil
                    logits.append((q[:, :, i, j] * k[:, :, y, x]).sum(-1) + rpb[:, pi + a, pj + b])
                    vals.append(v[:, :, y, x])
            w = torch.stack(logits, -1).softmax(-1)
            out[:, :, i, j] = (w.unsqueeze(-1) * torch.stack(vals, -2)).sum(-2)
    return out


@pytest.mark.parametrize('H,W,ks,dil', [(7, 7, 7, 1), (9, 13, 5, 1), (8, 11, 3, 2), (13, 10, 3, 3),
                                        (12, 15, 5, 2)])
def test_neighborhood_attention_follows_natten_rules(H, W, ks, dil):
    g = torch.Generator().manual_seed(H * W + ks)
    q, k, v = torch.randn(3, 2, 3, H, W, 4, generator=g).unbind(0)
    rpb = torch.randn(3, 2 * ks - 1, 2 * ks - 1, generator=g)
    got = neighborhood_attention_2d(q, k, v, ks, dil, rpb)
    assert_features_close(got, _naive_na(q, k, v, rpb, ks, dil))


@pytest.mark.parametrize('H,W,ks,tile', [(19, 26, 7, 8), (8, 30, 7, 8), (9, 9, 3, 4), (40, 17, 5, 8)])
def test_tiled_neighborhood_attention_equals_window_gather(H, W, ks, tile):
    """The tiled path (dilation 1: query tiles against the keys their windows cover, masked) gives
    the gather path's values and gradients (float64), with interior, border and padded tiles."""
    from vitdense.layers.neighborhood import _gathered_neighborhood_attention, _tiled_neighborhood_attention
    g = torch.Generator().manual_seed(H + W + ks)
    q, k, v = (t.requires_grad_() for t in torch.randn(3, 2, 3, H, W, 4, generator=g, dtype=torch.float64))
    rpb = torch.randn(3, 2 * ks - 1, 2 * ks - 1, generator=g, dtype=torch.float64, requires_grad=True)
    ref = _gathered_neighborhood_attention(q, k, v, ks, 1, rpb, 0.0, False)
    got = _tiled_neighborhood_attention(q, k, v, ks, rpb, 0.0, False, tile)
    grad = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(ref, (q, k, v, rpb), grad), torch.autograd.grad(got, (q, k, v, rpb), grad)):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)
    no_bias = _tiled_neighborhood_attention(q, k, v, ks, None, 0.0, False, tile)
    torch.testing.assert_close(no_bias, _gathered_neighborhood_attention(q, k, v, ks, 1, None, 0.0, False),
                               rtol=1e-10, atol=1e-10)


def test_neighborhood_module_pads_small_maps_and_rejects_bad_kernels():
    m = NeighborhoodAttention2d(8, 2, 7).eval()
    x = torch.randn(1, 3, 5, 8)
    with torch.no_grad():
        y = m(x)
        ref = m(nn.functional.pad(x, (0, 0, 0, 2, 0, 4)))[:, :3, :5]  # padded by hand to 7x7
    assert y.shape == x.shape
    torch.testing.assert_close(y, ref)
    with pytest.raises(ValueError, match='odd'):
        NeighborhoodAttention2d(8, 2, 4)
    with pytest.raises(ValueError, match='at least'):
        neighborhood_attention_2d(*torch.randn(3, 1, 1, 5, 5, 2).unbind(0), kernel_size=7)


def test_natten_kernel_matches_pure_pytorch():
    """NATTEN's fused kernels give the pure-PyTorch neighborhood attention."""
    pytest.importorskip('natten', reason='NATTEN (the CUDA neighborhood-attention extension) is not installed')
    if not torch.cuda.is_available():
        pytest.skip('natten is installed but no CUDA device is available')
    g = torch.Generator(device='cuda').manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 20, 27, 16, device='cuda', generator=g).unbind(0)
    rpb = torch.randn(4, 13, 13, device='cuda', generator=g)
    kernel = neighborhood_attention_2d(q, k, v, 7, 1, rpb, use_kernel=True)
    pure = neighborhood_attention_2d(q, k, v, 7, 1, rpb, use_kernel=False)
    assert_features_close(kernel, pure)


# ----------------------------------------------------------------------------- dense behaviour

def test_out_indices_subset():
    m = randomize_(DATPlusPlus(PP_SMALL, img_size=64), seed=1).eval()
    sub = DATPlusPlus(PP_SMALL, img_size=64, out_indices=(1, 3)).eval()
    sub.load_state_dict(m.state_dict(), strict=False)  # sub has no output norms 0 and 2
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        full, part = m(x), sub(x)
    assert len(part) == 2 and sub.out_channels == [16, 64]
    torch.testing.assert_close(part[0], full[1])
    torch.testing.assert_close(part[1], full[3])


@pytest.mark.parametrize('family', sorted(CLASSES))
def test_frozen_stages(family):
    m = CLASSES[family](SMALL[family], img_size=64, frozen_stages=2)
    assert m.train() is m
    for mod in (m.patch_proj, m.stages[0], m.norms[0], m.down_projs[0], m.stages[1], m.norms[1]):
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    for mod in (m.down_projs[1], m.stages[2], m.norms[2]):
        assert mod.training and all(p.requires_grad for p in mod.parameters())


# ----------------------------------------------------------------------------- checkpoints

def _official_names(model):
    """Our weights under the official names: LayerNormProxy wraps each LayerNorm in ``.norm``, the
    MLPs sit in containers (``chunk.linear1`` for DAT, ``linear1.0`` for DAT++)."""
    from vitdense.layers import LayerNorm2d
    wrapped = {n for n, m in model.named_modules() if isinstance(m, LayerNorm2d)}
    out = {}
    for k, v in model.state_dict().items():
        owner, param = k.rsplit('.', 1)
        if owner in wrapped:
            k = f'{owner}.norm.{param}'
        k = k.replace('.fc1.', '.chunk.linear1.').replace('.fc2.', '.chunk.linear2.')
        if model.plus_plus:
            k = k.replace('.linear1.', '.linear1.0.').replace('.linear2.', '.linear2.0.')
        out[k] = v
    return out


@pytest.mark.parametrize('family', sorted(CLASSES))
def test_official_classification_checkpoint_loads(family, tmp_path):
    cls = CLASSES[family]
    src = randomize_(cls(SMALL[family], img_size=64, out_indices=(3, )), seed=5)
    official = _official_names(src)
    official = {('cls_norm.' + k[len('norms.3.'):] if k.startswith('norms.3.') else k): v
                for k, v in official.items()}
    assert 'cls_norm.norm.weight' in official and 'patch_proj.1.norm.weight' in official
    official['cls_head.weight'] = torch.randn(1000, 64)
    official['cls_head.bias'] = torch.randn(1000)
    official['stages.0.attns.0.relative_position_index'] = torch.zeros(16, 16, dtype=torch.long)
    official['stages.0.attns.1.attn_mask'] = torch.zeros(16, 16, 16)
    path = tmp_path / 'dat_official_in1k.pth'
    torch.save({'model': official}, path)
    dst = cls(SMALL[family], img_size=64, out_indices=(0, 1, 2, 3))
    result = dst.load_pretrained(str(path))  # what init_cfg=Pretrained runs
    norms = [f'norms.{i}.{p}' for i in range(3) for p in ('weight', 'bias')]
    assert sorted(result.missing_keys) == sorted(norms)
    assert result.unexpected_keys == []
    got = dst.state_dict()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(got[k], v)


def test_official_dense_checkpoint_loads_and_resizes_rpe(tmp_path):
    """A DAT-Detection checkpoint ({'state_dict': backbone.* ...}, norms.i.norm.*) trained with a
    larger rpe table (img_size 96) loads into img_size 64 with the bicubic resize of the official loader."""
    src = randomize_(DATPlusPlus(PP_SMALL, img_size=96), seed=6)
    official = _official_names(src)
    assert 'norms.0.norm.weight' in official and 'stages.0.mlps.0.linear1.0.weight' in official
    path = tmp_path / 'mask_rcnn_datpp.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in official.items()}, 'meta': {}}, path)
    dst = DATPlusPlus(PP_SMALL, img_size=64, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    table = dst.stages[0].attns[1].rpe_table
    assert table.shape == (1, 31, 31)
    ref = nn.functional.interpolate(src.stages[0].attns[1].rpe_table[None], size=(31, 31), mode='bicubic')[0]
    torch.testing.assert_close(table, ref)
    torch.testing.assert_close(dst.stages[2].mlps[1].linear1.weight, src.stages[2].mlps[1].linear1.weight)


def test_bad_arch_names_valid_ones():
    with pytest.raises(ValueError, match=r"unknown arch 'huge'.*'base'.*'small'.*'tiny'"):
        DATPlusPlus('huge')
    with pytest.raises(ValueError, match='missing'):
        DAT(dict(dims=(8, 16, 32, 64)))
    with pytest.raises(ValueError, match='out_indices'):
        DAT(V1_SMALL, out_indices=(4, ))
    with pytest.raises(ValueError, match="unknown block letter 'X'"):
        DAT(dict(V1_SMALL, stage_spec=('LS', 'LS', 'LX', 'LD')))


@pytest.mark.slow
def test_toy_mask_rcnn_datpp_tiny_learns(tmp_path):
    from vitdense.testing import toy_training_run
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/dat/mask_rcnn_datpp_t_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
