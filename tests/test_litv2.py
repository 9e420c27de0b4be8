"""LITv2 fidelity: parameter counts of the official models, equal features/logits to the official code
(no peer library implements LITv2), the deformable convolution against mmcv's op, any input size,
freezing, checkpointing, gradients, checkpoint loading.

``tests/data/litv2_official_small.pt`` was produced from ziplab/LITv2 at commit 7501c86 by running the
official ``detection/mmdet/models/backbones/litv2.py`` (dense backbone) and
``classification/models/litv2.py`` (ImageNet model) locally on a small custom arch (embed 8, depths
1-1-2-2, heads 1-2-4-8, alpha 0.9) with seeded random weights (``vitdense.testing.randomize_``, offset
convs scaled so that offsets are several pixels). The official deformable convolution is a CUDA-only
extension; it was replaced for that run by mmcv's CPU ``deform_conv2d`` plus the bias (same parameters
as the official module). The file holds the official-layout state dict (fp16 values; both sides run on
their fp32 cast), uint8 inputs, the official stage features and logits. The official code itself is not
part of this repository. Seeds: ``randomize_(seed=11, std=0.1)``, offset convs 0.6 / 0.8 * N(0, 1) from
seed 3, classifier norm + head ``randomize_(seed=5, std=0.1)``, inputs ``torch.manual_seed(0)`` +
``randint``. Regenerate with ``tools/fixtures/make_litv2_fixture.py``.
"""
import os

import pytest
import torch
import torch.nn as nn

from vitdense.backbones.litv2 import DeformConv2dPack, HiLo, LITv2, convert_litv2_checkpoint
from vitdense.registry import MODELS
from vitdense.testing import assert_features_close, params_without_gradient, randomize_

DATA = os.path.join(os.path.dirname(__file__), 'data', 'litv2_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = dict(embed_dims=8, depths=(1, 1, 2, 2), num_heads=(1, 2, 4, 8))

# Parameters of the ImageNet-1k classifiers (backbone + final norm + 1000-way head). The official
# README gives 28M / 49M / 87M; the exact counts are those of the official model definition
# (classification/models/litv2.py with the released configs litv2-{small,medium,base}.yaml: alpha 0.9,
# local_ws 0-0-2-1), counted locally with a parameter-identical stand-in for the CUDA DCN module.
OFFICIAL_PARAMS = {'small': 27_844_000, 'medium': 48_830_368, 'base': 86_520_704}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    d['cls_extra'] = {k: v.float() for k, v in d['cls_extra'].items()}
    return d


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = LITv2(arch, out_indices=(3,), out_norm=True)
    head = nn.Linear(m.num_features[-1], 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == OFFICIAL_PARAMS[arch]


@pytest.mark.parametrize('local_ws,key,x', [((0, 0, 2, 1), 'feats_a', 'x_a'),
                                            ((0, 0, 2, 1), 'feats_b', 'x_b'),
                                            ((0, 0, 4, 1), 'feats_a_ws4', 'x_a')])
def test_equals_official_dense_backbone(official, local_ws, key, x):
    """64x96 (2 images), 80x112 (odd 5x7 stage-3 map: HiLo pads to its window; stage 4 is not
    compared since the official DTM floors odd maps) and the ws-4 setting of the ``_ws_4`` configs
    (4x6 stage-3 map padded to 4x8)."""
    m = LITv2(SMALL, local_ws=local_ws, drop_path_rate=0.0)
    m.load_state_dict(convert_litv2_checkpoint(official['state_dict']), strict=True)
    m.eval()
    with torch.no_grad():
        outs = m(_img(official[x]))
    ref = official[key]
    assert len(ref) in (3, 4)
    for got, exp in zip(outs, ref):
        assert got.shape == exp.shape
        assert_features_close(got, exp)


def test_equals_official_classifier(official):
    """The ImageNet layout (final ``norm``, ``head``) through the converter: our last stage with its
    output norm, averaged and fed to the official head, gives the official logits."""
    sd = {k: v for k, v in official['state_dict'].items() if not k.startswith(('norm1.', 'norm2.', 'norm3.'))}
    sd.update(official['cls_extra'])
    m = LITv2(SMALL, out_indices=(3,), out_norm=True, drop_path_rate=0.0)
    m.load_state_dict(convert_litv2_checkpoint(sd), strict=True)
    m.eval()
    with torch.no_grad():
        feat = m(_img(official['x_cls']))[0].mean((2, 3))
    logits = nn.functional.linear(feat, sd['head.weight'], sd['head.bias'])
    assert_features_close(logits, official['logits'])


def test_deform_conv_matches_mmcv_op():
    """Our torchvision-based DCN equals mmcv's DeformConv2dPack (which has no bias) plus the bias,
    with offsets of several pixels (some samples outside the map), forward and backward."""
    mmcv_ops = pytest.importorskip('mmcv.ops')
    torch.manual_seed(0)
    ours = DeformConv2dPack(8, 16, 2, 2)
    with torch.no_grad():
        ours.conv_offset.weight.normal_(0, 0.5)
        ours.conv_offset.bias.normal_(0, 1.0)
    ref = mmcv_ops.DeformConv2dPack(8, 16, 2, stride=2)
    ref.weight.data.copy_(ours.weight.data)
    ref.conv_offset.load_state_dict(ours.conv_offset.state_dict())
    x = torch.randn(2, 8, 12, 18)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    a = ours(xa)
    b = ref(xb) + ours.bias.view(1, -1, 1, 1)
    assert ours.conv_offset(x).abs().max() > 2  # sampling really leaves the 2x2 taps
    assert_features_close(a, b)
    a.square().sum().backward()
    b.square().sum().backward()
    # two fp32 implementations (torchvision vs. mmcv): 1e-4 of each gradient's scale
    assert_features_close([xa.grad, ours.weight.grad, ours.conv_offset.weight.grad],
                          [xb.grad, ref.weight.grad, ref.conv_offset.weight.grad])


@pytest.mark.parametrize('alpha,l_heads', [(0.0, 0), (0.5, 2), (0.9, 3), (1.0, 4)])
def test_hilo_head_split_and_padding(alpha, l_heads):
    attn = HiLo(32, 4, window_size=2, alpha=alpha)
    assert attn.l_heads == l_heads and attn.h_heads == 4 - l_heads
    assert hasattr(attn, 'l_q') == (l_heads > 0) and hasattr(attn, 'h_qkv') == (l_heads < 4)
    x = torch.randn(2, 5 * 7, 32)
    assert attn(x, (5, 7)).shape == x.shape
    assert HiLo(32, 4, window_size=1, alpha=alpha).h_heads == 0  # ws 1: plain self-attention


def test_hilo_window1_is_plain_self_attention():
    attn = randomize_(HiLo(16, 2, window_size=1), seed=3)
    x = torch.randn(1, 12, 16)
    q = attn.l_q(x).view(1, 12, 2, 8).transpose(1, 2)
    k, v = attn.l_kv(x).view(1, 12, 2, 2, 8).permute(2, 0, 3, 1, 4)
    y = torch.softmax(q @ k.transpose(-1, -2) * 8 ** -0.5, -1) @ v
    ref = attn.l_proj(y.transpose(1, 2).reshape(1, 12, 16))
    assert_features_close(attn(x, (3, 4)), ref, rel=1e-5)  # one attention, sums of 8-16 terms


def test_out_indices_and_norms():
    m = LITv2(SMALL, out_indices=(1, 3))
    assert m.out_channels == [16, 64]
    outs = m(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [16, 64]
    det = LITv2(SMALL)  # official detection code: no norm on stage 1
    assert isinstance(det.norm0, nn.Identity) and isinstance(det.norm1, nn.LayerNorm)
    seg = LITv2(SMALL, out_norm=True)  # official segmentation code: all four
    assert all(isinstance(getattr(seg, f'norm{i}'), nn.LayerNorm) for i in range(4))
    with pytest.raises(ValueError, match='out_indices'):
        LITv2(SMALL, out_indices=(4,))


def test_frozen_stages():
    m = LITv2(SMALL, frozen_stages=2)
    assert m.train() is m
    for mod in (m.patch_embed, m.layers[0], m.layers[1], m.norm1):
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    assert not m.layers[1].downsample.norm_layer.training  # DTM's BatchNorm keeps its statistics
    assert m.layers[2].training and all(p.requires_grad for p in m.layers[2].parameters())
    assert all(p.requires_grad for p in m.norm2.parameters())


def test_gradients_reach_every_parameter():
    m = LITv2(SMALL, with_cp=True, drop_path_rate=0.0, out_norm=True)
    with torch.no_grad():  # non-zero offsets, so that the offset conv gets a gradient
        for layer in m.layers[:-1]:
            layer.downsample.dconv.conv_offset.weight.normal_(0, 0.1)
    m.train()
    assert params_without_gradient(m, torch.randn(2, 3, 50, 70)) == []


def test_official_classification_checkpoint_loads(tmp_path, official):
    """{'model': ...} as the official release (final ``norm``, ``head``, ``mlp.dwconv.dwconv``)."""
    sd = {k: v for k, v in official['state_dict'].items() if not k.startswith(('norm1.', 'norm2.', 'norm3.'))}
    sd.update(official['cls_extra'])
    path = tmp_path / 'litv2_s.pth'
    torch.save({'model': sd, 'epoch': 300}, path)
    m = LITv2(SMALL, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    m.init_weights()
    got = m.state_dict()
    torch.testing.assert_close(got['norm3.weight'], sd['norm.weight'])
    torch.testing.assert_close(got['layers.0.blocks.0.mlp.dwconv.weight'],
                               sd['layers.0.blocks.0.mlp.dwconv.dwconv.weight'])
    torch.testing.assert_close(got['layers.2.downsample.dconv.conv_offset.weight'],
                               sd['layers.2.downsample.dconv.conv_offset.weight'])


def test_official_detection_checkpoint_loads(tmp_path, official):
    """{'state_dict': {'backbone.' + official keys, neck/head keys}} as the released detectors."""
    sd = {'backbone.' + k: v for k, v in official['state_dict'].items()}
    sd['neck.lateral_convs.0.conv.weight'] = torch.zeros(4, 8, 1, 1)
    path = tmp_path / 'mask_rcnn_litv2.pth'
    torch.save({'state_dict': sd, 'meta': {}}, path)
    m = LITv2(SMALL, drop_path_rate=0.0, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    m.init_weights()
    m.eval()
    with torch.no_grad():
        outs = m(_img(official['x_a']))
    assert_features_close(outs[3], official['feats_a'][3])


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match=r"unknown arch 'tiny'.*'base'.*'medium'.*'small'"):
        LITv2('tiny')
    with pytest.raises(ValueError, match='missing'):
        LITv2(dict(embed_dims=96))
    with pytest.raises(ValueError, match='local_ws'):
        LITv2(SMALL, local_ws=(0, 0, 0, 1))
    with pytest.raises(ValueError, match='out_norm'):
        LITv2(SMALL, out_norm=(True, False))


def test_registry_and_init():
    m = MODELS.build(dict(type='vitdense.LITv2', arch=SMALL))  # whatever the default scope
    assert type(m) is LITv2
    m.init_weights()
    dconv = m.layers[0].downsample.dconv
    assert dconv.conv_offset.weight.abs().sum() == 0  # offsets start at zero: DTM starts as a strided conv
    assert m.layers[2].blocks[0].attn.l_q.bias.abs().sum() == 0


@pytest.mark.slow
def test_toy_mask_rcnn_litv2_s_learns(tmp_path):
    import math

    import numpy as np

    from vitdense.testing import toy_training_run
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/litv2/mask_rcnn_litv2_s_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]), metrics
