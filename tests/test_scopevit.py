"""ScopeViT fidelity: parameter counts of the official models, equal stage features to the official
code (no peer library implements ScopeViT), the official checkpoint layouts, the padded GSDA at
sizes the official code cannot run, and a toy detection run.

``tests/data/scopevit_official_small.pt`` was written by ``tools/fixtures/make_scopevit_fixture.py``
from xuesongnie/ScopeViT at commit 98198d0fa5eb5342881ac06e5f1ad98a7f9ccc9d: its ``models/scopevit.py``
imported unchanged (its optional mmcv/mmdet/mmseg/mmpose imports made to fail by empty stand-in
modules, so only the torch + timm + einops classifier is defined), class ``ScopeViT`` with a small
custom arch (embed_dims 8-16-16-16, depths 1-1-2-1, heads 2-4-4-4, mssa_stride 4-2-1-1,
mssa_split [1,1,0] [2,1,1] [2,1,1] [2,1,1], gsda_dilation 4-4-2-1, MLP ratio 2, 10 classes), seeded
random weights (``vitdense.testing.randomize_``, seed 0, BatchNorm statistics included) rounded to
fp16 values, eval mode. Entries: ``arch``, ``mlp_ratio``; ``state_dict`` (the official one, fp16,
``head`` included; both sides run on its fp32 cast); ``x_64`` (1x3x64x64) and ``x_64x96`` (1x3x64x96)
uint8 images (generator seed 1), normalised as ``(x / 255 - 0.45) / 0.25``; ``feats_64`` /
``feats_64x96``, the four ``norm{i}`` outputs (forward hooks). The official GSDA needs every stage map
divisible by its dilation, hence the arch's dilations and these sizes. The official code itself is not
part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.scopevit import GlobalScaleAttention, ScopeViT, convert_scopevit_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'scopevit_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('64', '64x96')

# Parameters of the ImageNet classifiers (backbone + the official 1000-way linear head), counted by
# building scopevit_{xtiny,tiny,small} (num_classes=1000) of the official models/scopevit.py at
# commit 98198d0 locally. The official README lists ScopeViT-T at 7.4M; its released code gives 8.0M.
OFFICIAL_PARAMS = {'xtiny': 5_287_490, 'tiny': 8_006_716, 'small': 18_162_010}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    return ScopeViT(dict(official['arch']), mlp_ratio=official['mlp_ratio'], drop_path_rate=0.0, **kw)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = ScopeViT(arch)
    head = m.num_features[-1] * 1000 + 1000
    assert sum(p.numel() for p in m.parameters()) + head == OFFICIAL_PARAMS[arch]


def test_arch_aliases():
    assert ScopeViT.arch_zoo['xt'] is ScopeViT.arch_zoo['x-tiny'] is ScopeViT.arch_zoo['xtiny']
    assert ScopeViT.arch_zoo['t']['depths'] == (2, 2, 5, 2)
    assert ScopeViT.arch_zoo['t']['embed_dims'] == (32, 64, 128, 256)


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs(official, size):
    ours = _small(official)
    ours.load_state_dict(convert_scopevit_checkpoint(official['state_dict']), strict=True)
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official[f'x_{size}']))
    ref = official[f'feats_{size}']
    assert len(outs) == len(ref) == 4
    for got, exp in zip(outs, ref):
        assert got.shape == exp.shape
        assert_features_close(got, exp)


@pytest.mark.parametrize('layout', ['classification', 'dense'])
def test_official_layouts_load_through_init_cfg(official, tmp_path, layout):
    """Classifier: ``{'model': ...}`` with ``head``; dense (mmdet/mmseg ``ScopeViT_feat``):
    ``{'state_dict': {'backbone.*': ...}}`` next to neck/head weights."""
    sd = official['state_dict']
    if layout == 'classification':
        ckpt = {'model': sd}
    else:
        ckpt = {'state_dict': {**{f'backbone.{k}': v for k, v in sd.items() if not k.startswith('head.')},
                               'neck.lateral_convs.0.conv.weight': torch.zeros(4, 8, 1, 1)}}
    path = tmp_path / f'scopevit_{layout}.pth'
    torch.save(ckpt, path)
    ours = _small(official, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official['x_64x96']))
    for got, exp in zip(outs, official['feats_64x96']):
        assert_features_close(got, exp)


def test_converter_drops_the_classifier_and_keeps_our_format(official):
    conv = convert_scopevit_checkpoint(official['state_dict'])
    assert any(k.startswith('head.') for k in official['state_dict'])
    assert not any(k.startswith('head.') for k in conv)
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_scopevit_checkpoint(ours)
    assert list(again) == list(ours)
    assert all(again[k] is ours[k] for k in ours)


def _naive_gsda(attn, x, hw):
    """Each query attends to the real tokens of its dilated grid only (the reference for padding)."""
    B, N, C = x.shape
    H, W = hw
    d = attn.dilation
    hp, wp = math.ceil(H / d), math.ceil(W / d)
    heads = attn.num_heads
    qkv = attn.qkv(x).reshape(B, H, W, 3, heads, C // heads)
    bias = attn.rel_pos()  # (heads, d*d, d*d) over slots a * d + b
    out = torch.zeros(B, H, W, C)
    for i in range(hp):
        for j in range(wp):
            slots = [(a, b) for a in range(d) for b in range(d) if a * hp + i < H and b * wp + j < W]
            rows = torch.tensor([a * hp + i for a, _ in slots])
            cols = torch.tensor([b * wp + j for _, b in slots])
            idx = torch.tensor([a * d + b for a, b in slots])
            t = qkv[:, rows, cols]  # (B, n, 3, heads, hd)
            q, k, v = t.permute(2, 0, 3, 1, 4)
            w = (q @ k.transpose(-2, -1)) * (C // heads) ** -0.5 + bias[:, idx][:, :, idx]
            o = (w.softmax(-1) @ v).transpose(1, 2).reshape(B, len(slots), C)
            out[:, rows, cols] = attn.proj(o)
    return out.reshape(B, N, C)


@pytest.mark.parametrize('hw', [(13, 10), (8, 8), (3, 17), (1, 1)])
def test_padded_dilated_attention_ignores_padding(hw):
    attn = randomize_(GlobalScaleAttention(16, 4, dilation=4), seed=1).eval()
    x = torch.randn(2, hw[0] * hw[1], 16)
    with torch.no_grad():
        assert_features_close(attn(x, hw), _naive_gsda(attn, x, hw))


def test_odd_sizes_keep_every_pixel(official):
    """A 32k+1 image gives ceil sizes, and its last row reaches the last stage."""
    m = randomize_(_small(official), seed=5).eval()
    x = torch.randn(1, 3, 65, 33)
    y = x.clone()
    y[..., 64, :] += 1.0
    with torch.no_grad():
        a, b = m(x), m(y)
    assert [tuple(f.shape[-2:]) for f in a] == [(17, 9), (9, 5), (5, 3), (3, 2)]
    assert not torch.allclose(a[3][..., -1, :], b[3][..., -1, :])


@pytest.mark.slow
def test_toy_mask_rcnn_scopevit_xtiny_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/scopevit/mask_rcnn_scopevit_xtiny_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics


def test_random_init_is_the_official_one():
    """init_cfg=None: truncated-normal (std 0.02) linears with zero biases, He fan-out convs, unit
    LayerNorms, layer scales at 1e-6 (official _init_weights and LayerScale)."""
    m = ScopeViT('xtiny')
    m.init_weights()
    blk = m.blocks3[0]
    w = blk.gsda.attn.qkv.weight
    assert 0.015 < w.std().item() < 0.025
    assert blk.mssa.mlp.fc1.bias.abs().max() == 0
    conv = blk.mssa.attn.mspe.large_embed
    assert abs(conv.weight.std().item() - (2.0 / (49 * conv.out_channels // conv.groups)) ** 0.5) < 0.1
    assert blk.mssa.ls1.gamma.eq(1e-6).all() and blk.gsda.norm1.weight.eq(1).all()
