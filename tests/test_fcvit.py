"""FCViT fidelity: parameter counts of the official models, equal stage features to the official code
(no peer library implements FCViT), the official classification and dense checkpoint layouts, the
global context's rules and a toy detection run.

``tests/data/fcvit_official_small.pt`` was written by ``tools/fixtures/make_fcvit_fixture.py`` from
ma-xu/FCViT at commit 77e5a9d15de77e6eeea793ae39996de89c073c00: its ``models/fcvit.py`` imported
unchanged (a ``timm.models.layers.helpers.to_2tuple`` stand-in for timm 1.x during the import), the
dense backbone ``BaseFormer(fork_feat=True)`` with the settings of every released model (two mixing
rounds, 11x11 depth-wise kernels, weighted competing global context with 8 groups, depth-wise conv
in the channel mixer, no spatial/channel attention), a small custom arch (dims 16-16-24-32, depths
1-1-2-1, MLP ratios 4-4-2-2), seeded random weights (``vitdense.testing.randomize_``, seed 0, std
0.1, BatchNorm statistics included; then, generator seed 2, layer scales from U(0.5, 1.5) and the
global context's Linear weights and biases x20, so that dropping either context, a depth-wise conv
or switching the context's unbiased std to a biased one moves the outputs by > 2e-4 of their scale)
rounded to fp16 values, eval mode. Entries: ``arch``; ``state_dict`` (the official dense layout, fp16: ``patch_embed``,
``network.N``, ``norm0/2/4/6``; both sides run on its fp32 cast); ``x_48`` (1x3x48x48) and
``x_47x33`` (1x3x47x33) uint8 images (generator seed 1), normalised as ``(x / 255 - 0.45) / 0.25``;
``feats_*``, the raw outputs of ``network[0, 2, 4, 6]`` (forward hooks); ``outs_*``, the four
GroupNorm-ed maps the official backbone returns. The official code itself is not part of this
repository.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.fcvit import FCViT, GlobalContext, convert_fcvit_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'fcvit_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('48', '47x33')  # 47x33: odd sides; the official convs already give ceil(H / s) there

# Parameters of the ImageNet classifiers (backbone + final GroupNorm + 1000-way linear head),
# counted by building fcvit_tiny / fcvit_b12 / fcvit_b24 / fcvit_b48 of the official models/fcvit.py
# at commit 77e5a9d locally.
OFFICIAL_PARAMS = {'tiny': 4_784_752, 'b12': 14_701_832, 'b24': 26_960_232, 'b48': 51_477_032}
# The official README's "#params" column (4.6M / 14M / 25.7M / 49.1M) counts in units of 2**20.
README_MEBI = {'tiny': 4.6, 'b12': 14.0, 'b24': 25.7, 'b48': 49.1}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    a = official['arch']
    arch = dict(dims=tuple(a['dims']), depths=tuple(a['depths']), mlp_ratios=tuple(a['mlp_ratios']))
    return FCViT(arch, drop_path_rate=0.0, **kw)


def _classifier_params(arch):
    m = FCViT(arch, out_indices=(3, ))  # norm3 has the shape of the classifier's final norm
    return sum(p.numel() for p in m.parameters()) + m.num_features[-1] * 1000 + 1000


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    n = _classifier_params(arch)
    assert n == OFFICIAL_PARAMS[arch]
    assert round(n / 2 ** 20, 1) == README_MEBI[arch]


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs_raw_and_normed(official, size):
    sd = convert_fcvit_checkpoint(official['state_dict'])
    normed = _small(official).eval()
    normed.load_state_dict(sd, strict=True)
    raw = _small(official, out_norm=False).eval()
    result = raw.load_state_dict(sd, strict=False)
    assert result.missing_keys == [] and len(result.unexpected_keys) == 8  # norm0..3 weight/bias
    x = _img(official[f'x_{size}'])
    with torch.no_grad():
        got_raw, got = raw(x), normed(x)
    H, W = x.shape[-2:]
    for i, (a, b, fa, fb) in enumerate(zip(got_raw, got, official[f'feats_{size}'], official[f'outs_{size}'])):
        s = 4 * 2 ** i
        assert a.shape == fa.shape == (1, raw.num_features[i], math.ceil(H / s), math.ceil(W / s))
        assert_features_close(a, fa)
        assert_features_close(b, fb)


def test_fixture_is_sensitive_to_the_global_context(official, monkeypatch):
    """The fixture's weights make the context's details visible: a biased std in its
    standardisation, or no second context, breaks the equality above."""
    raw = _small(official, out_norm=False).eval()
    raw.load_state_dict(convert_fcvit_checkpoint(official['state_dict']), strict=False)
    x, ref = _img(official['x_47x33']), official['feats_47x33']
    std_mean = torch.std_mean
    monkeypatch.setattr(torch, 'std_mean', lambda t, dim, keepdim: std_mean(t, dim=dim, keepdim=keepdim, correction=0))
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(raw(x), ref)
    monkeypatch.undo()
    for stage in raw.stages:
        for blk in stage:
            monkeypatch.setattr(blk.token_mixer.gc2, 'forward', torch.zeros_like)
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(raw(x), ref)


def test_official_dense_checkpoint_loads_through_init_cfg(official, tmp_path):
    """An official Mask R-CNN / Semantic FPN checkpoint: 'state_dict' with 'backbone.' keys in the
    official layout (patch_embed, network.N, norm0/2/4/6)."""
    path = tmp_path / 'mask_rcnn_fcvit_small.pth'
    sd = {'backbone.' + k: v for k, v in official['state_dict'].items()}
    sd['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    torch.save({'state_dict': sd, 'meta': {}}, path)
    ours = _small(official, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official['x_47x33']))
    for got, exp in zip(outs, official['outs_47x33']):
        assert_features_close(got, exp)


def test_official_classifier_layout_loads_through_init_cfg(official, tmp_path):
    """An official classifier file ({'state_dict': ...} or plain; final GroupNorm 'norm', linear
    'head'): the final norm becomes norm3, the head is dropped, the last stage's normed output is
    the official one."""
    dense = official['state_dict']
    cls = {k: v for k, v in dense.items() if not k.startswith(('norm0', 'norm2', 'norm4', 'norm6'))}
    cls.update({'norm.weight': dense['norm6.weight'], 'norm.bias': dense['norm6.bias'],
                'head.weight': torch.randn(1000, 32), 'head.bias': torch.randn(1000)})
    path = tmp_path / 'fcvit_small.pth.tar'
    torch.save({'state_dict': cls}, path)
    ours = _small(official, out_indices=(3, ), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        (out, ) = ours(_img(official['x_48']))
    assert_features_close(out, official['outs_48'][3])
    assert set(convert_fcvit_checkpoint(cls)) == set(ours.state_dict())


def test_converter_maps_official_names_and_keeps_our_format(official):
    conv = convert_fcvit_checkpoint(official['state_dict'])
    assert 'downsample_layers.0.proj.weight' in conv and 'downsample_layers.3.norm.running_var' in conv
    assert 'stages.2.1.token_mixer.gc2.rescale_weight' in conv and 'norm3.weight' in conv
    assert torch.equal(conv['downsample_layers.2.proj.weight'], official['state_dict']['network.3.proj.weight'])
    assert torch.equal(conv['norm1.bias'], official['state_dict']['norm2.bias'])
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_fcvit_checkpoint(ours)
    assert list(again) == list(ours) and all(again[k] is ours[k] for k in ours)


def test_global_context_rules():
    """Channels must split into the 8 context groups; the similarity is standardised over all
    groups and positions, so a constant shift of the input changes nothing but the context
    vector's input; the competing bottleneck is C -> 2 x C/8 -> max -> C."""
    gc = randomize_(GlobalContext(32), seed=7)
    assert gc.fc1.out_features == 8 and gc.fc2.in_features == 4 and gc.rescale_weight.numel() == 8
    x = torch.randn(2, 32, 5, 3)
    with torch.no_grad():
        y = gc(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    with pytest.raises(ValueError, match='divisible'):
        GlobalContext(36)
    with pytest.raises(ValueError, match='divisible'):
        FCViT(dict(depths=(1, 1, 1, 1), dims=(16, 32, 64, 100)))


def test_structure_and_options():
    """Stem 7x7/4, 3x3/2 downsampling with BN, GroupNorm(1) block norms, 11x11 depth-wise mixers and
    max(C/8, 16)-channel bottlenecks; SyncBN from norm_cfg; norm_eval; no output norms on request."""
    m = FCViT('tiny')
    assert m.downsample_layers[0].proj.kernel_size == (7, 7) and m.downsample_layers[0].proj.stride == (4, 4)
    assert m.downsample_layers[2].proj.kernel_size == (3, 3) and isinstance(m.downsample_layers[2].norm,
                                                                           nn.BatchNorm2d)
    blk = m.stages[3][0]
    assert isinstance(blk.norm1, nn.GroupNorm) and blk.norm1.num_groups == 1
    assert blk.token_mixer.dw1.kernel_size == (11, 11) and blk.token_mixer.fc1[0].out_channels == 40
    assert m.stages[0][0].token_mixer.fc2[0].out_channels == 16
    assert m.stages[0][0].channel_mixer.fc1.out_channels == 256 and blk.channel_mixer.fc1.out_channels == 1280
    sync = FCViT('tiny', norm_cfg=dict(type='SyncBN', requires_grad=True))
    assert isinstance(sync.downsample_layers[1].norm, nn.SyncBatchNorm)
    frozen_bn = FCViT('tiny', norm_eval=True).train()
    assert frozen_bn.training and not frozen_bn.downsample_layers[1].norm.training
    assert not any(k.startswith('norm') for k in FCViT('tiny', out_norm=False).state_dict())


@pytest.mark.slow
def test_toy_mask_rcnn_fcvit_tiny_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/fcvit/mask_rcnn_fcvit_tiny_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
