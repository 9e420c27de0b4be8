"""InceptionNeXt fidelity: parameter counts of the official models, equal stage features to timm's
``inception_next_atto`` / ``inception_next_tiny`` given the same weights (through our converter,
directly and from timm's state_dict saved to a file, loaded via ``init_cfg``), the official release
layout, the token mixer's channel split, the stage layout, BatchNorm options and a toy detection
run. timm is the peer (its ``inception_next.py`` is the official model code), so there is no
official-code fixture."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.inceptionnext import InceptionNeXt, convert_inceptionnext_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The official code and timm floor at sizes that are not multiples of 32 (4x4/4 and 2x2/2 convs
# without padding) and we pad to ceil there, so features can be equal only at multiples of 32: a
# square size and a non-square one.
SIZES = [(64, 64), (96, 160)]
SMALL = dict(depths=(1, 1, 2, 1), dims=(16, 32, 64, 96))

# Parameters of the ImageNet-1k classifiers (backbone + MlpHead: Linear 3x -> GELU -> LayerNorm ->
# Linear 1000), counted by building the official models/inceptionnext.py of sail-sg/inceptionnext at
# commit 3f9769c6b3fcf903d1dc2f436eddc6963cacb535 (inceptionnext_atto/tiny/small/base/base_384);
# timm 1.0.31's inception_next_* give the same numbers. README: 4.2M / 28M / 49M / 87M / 87M.
OFFICIAL_PARAMS = {'atto': 4_156_520, 'tiny': 28_055_680, 'small': 49_374_016, 'base': 86_672_136,
                   'base_384': 86_672_136}


def _head_params(dim):
    hidden = 3 * dim
    return (dim * hidden + hidden) + 2 * hidden + (hidden * 1000 + 1000)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = InceptionNeXt(arch)
    n = sum(p.numel() for p in m.parameters()) + _head_params(m.num_features[-1])
    assert n == OFFICIAL_PARAMS[arch]


TIMM_PEERS = [('inception_next_atto', 'atto'), ('inception_next_tiny', 'tiny')]


@pytest.mark.parametrize('name,arch', TIMM_PEERS, ids=[p[0] for p in TIMM_PEERS])
def test_equals_timm_directly_and_through_init_cfg(name, arch, tmp_path):
    """timm's forward_intermediates are the raw stage outputs (ours by default). timm's state_dict
    is the official release layout: the converter drops the head and every other key matches; the
    same state_dict saved to a file loads through init_cfg."""
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = randomize_(timm.create_model(name, pretrained=False), seed=1).eval()
    direct = InceptionNeXt(arch).eval()
    converted = convert_inceptionnext_checkpoint(peer.state_dict())
    assert set(converted) == set(direct.state_dict())
    direct.load_state_dict(converted, strict=True)
    path = tmp_path / f'{name}.pth'
    torch.save(peer.state_dict(), path)
    loaded = InceptionNeXt(arch, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    loaded.init_weights()
    loaded.eval()
    for hw in SIZES:
        x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(hw[1]))
        with torch.no_grad():
            ref = peer.forward_intermediates(x, intermediates_only=True)
            got, got_file = direct(x), loaded(x)
        assert len(ref) == len(got) == 4
        for i, (fa, fb, fc) in enumerate(zip(ref, got, got_file)):
            s = 4 * 2 ** i
            assert fb.shape == fa.shape == (2, direct.num_features[i], hw[0] // s, hw[1] // s)
            assert_features_close(fb, fa)
            assert_features_close(fc, fa)


def test_timm_stage_layout_is_ours():
    """timm (and the official code) put the downsampling layer at the start of stages 1..3
    (stage 0 has none, the stem brings it to stride 4): stage i's output, out_indices i, is at
    stride 4 * 2**i, and timm's feature_info says the same."""
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = timm.create_model('inception_next_atto', pretrained=False)
    assert isinstance(peer.stages[0].downsample, nn.Identity)
    assert all(isinstance(peer.stages[i].downsample, nn.Sequential) for i in (1, 2, 3))
    ours = InceptionNeXt('atto')
    assert isinstance(ours.stages[0].downsample, nn.Identity)
    assert [f['reduction'] for f in peer.feature_info] == [f['reduction'] for f in ours.feature_info] == [4, 8, 16, 32]
    assert [f['num_chs'] for f in peer.feature_info] == ours.out_channels == [40, 80, 160, 320]


def test_official_release_layout_with_dense_prefix_loads(tmp_path):
    """An official classifier file (plain state_dict with head.fc1/norm/fc2) and a dense
    checkpoint of ours ('state_dict', 'backbone.' prefix, output norms) both load through init_cfg
    with every backbone key matched."""
    src = randomize_(InceptionNeXt(SMALL), seed=3)
    official = dict(src.state_dict())
    official.update({'head.fc1.weight': torch.randn(288, 96), 'head.fc1.bias': torch.randn(288),
                     'head.norm.weight': torch.randn(288), 'head.norm.bias': torch.randn(288),
                     'head.fc2.weight': torch.randn(1000, 288), 'head.fc2.bias': torch.randn(1000)})
    path = tmp_path / 'inceptionnext_small_arch.pth'
    torch.save(official, path)
    dst = InceptionNeXt(SMALL, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k

    dense = randomize_(InceptionNeXt(SMALL, out_norm=True), seed=4)
    path = tmp_path / 'upernet.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in dense.state_dict().items()}, 'meta': {}}, path)
    dst = InceptionNeXt(SMALL, out_norm=True, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    assert dst.state_dict().keys() == dense.state_dict().keys()
    for k, v in dense.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_token_mixer_split_and_mlp_ratios():
    """T/S/B: identity + three branches of C/8 (3x3, 1x11, 11x1); atto: C/4 and 9-long bands.
    MLP ratio 4 in stages 0-2 and 3 in the last; the identity part passes unchanged."""
    t = InceptionNeXt('tiny')
    mix = t.stages[0].blocks[0].token_mixer
    assert mix.split_indexes == (60, 12, 12, 12)
    assert mix.dwconv_hw.kernel_size == (3, 3) and mix.dwconv_w.kernel_size == (1, 11)
    assert mix.dwconv_h.kernel_size == (11, 1) and mix.dwconv_w.groups == 12
    a = InceptionNeXt('atto').stages[1].blocks[0].token_mixer
    assert a.split_indexes == (20, 20, 20, 20) and a.dwconv_w.kernel_size == (1, 9)
    assert [s.blocks[0].mlp.fc1.out_channels for s in t.stages] == [384, 768, 1536, 2304]
    randomize_(mix, seed=6)
    x = torch.randn(1, 96, 9, 7)
    with torch.no_grad():
        y = mix(x)
    assert torch.equal(y[:, :60], x[:, :60]) and not torch.allclose(y[:, 60:], x[:, 60:])
    with pytest.raises(ValueError, match='branch_ratio'):
        InceptionNeXt(dict(SMALL, branch_ratio=0.5))


def test_bottom_right_pixels_are_not_dropped():
    """At 4k+1 sizes the official 4x4/4 stem drops the last row; ours pads and keeps it."""
    m = randomize_(InceptionNeXt(SMALL, out_indices=(0, 3)), seed=5).eval()
    x = torch.randn(1, 3, 33, 47)
    y = x.clone()
    y[..., 32, :] += 1.0
    with torch.no_grad():
        a, b = m(x), m(y)
    assert a[0].shape[-2:] == (9, 12) and a[1].shape[-2:] == (2, 2)
    assert not torch.allclose(a[0][..., -1, :], b[0][..., -1, :])


def test_norm_cfg_norm_eval_and_output_norms():
    """SyncBN from norm_cfg everywhere (same state-dict names as BN); norm_eval keeps every
    BatchNorm in eval mode under train(); out_norm adds a norm per returned stage only."""
    sync = InceptionNeXt(SMALL, norm_cfg=dict(type='SyncBN', requires_grad=True))
    bns = [m for m in sync.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and all(isinstance(m, nn.SyncBatchNorm) for m in bns)
    assert sync.state_dict().keys() == InceptionNeXt(SMALL).state_dict().keys()
    m = InceptionNeXt(SMALL, norm_eval=True).train()
    assert m.training and all(not b.training for b in m.modules() if isinstance(b, nn.BatchNorm2d))
    assert all(p.requires_grad for p in m.parameters())
    assert InceptionNeXt(SMALL).train().stem[1].training
    n = InceptionNeXt(SMALL, out_norm=True, out_indices=(1, 3))
    assert isinstance(n.norm1, nn.BatchNorm2d) and n.norm3.num_features == 96 and not hasattr(n, 'norm0')
    assert not any(k.startswith('norm') for k in InceptionNeXt(SMALL).state_dict())


def test_layer_scale_init_and_off():
    assert InceptionNeXt(SMALL).stages[2].blocks[1].gamma.detach().eq(1e-6).all()
    assert not any(k.endswith('gamma') for k in InceptionNeXt(SMALL, ls_init_value=0).state_dict())


@pytest.mark.slow
def test_toy_mask_rcnn_inceptionnext_atto_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/inceptionnext/mask_rcnn_inceptionnext_atto_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
