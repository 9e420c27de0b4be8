"""FastViT fidelity: parameter counts of the official models in both forms, equal stage features to
the official code (fixture) and to timm's ``fastvit_*`` given the same weights (directly and from
timm checkpoint files through ``init_cfg``), in the training and the fused form (timm's
``reparameterize_model``), ``switch_to_deploy``, the refusal of a checkpoint in the other form, and
a toy detection run.

``tests/data/fastvit_official_small.pt`` comes from apple/ml-fastvit at commit 8af5928 (its
``models`` package imported unchanged): ``FastViT(layers=[1, 1, 1, 1], embed_dims=[8, 16, 16, 32],
mlp_ratios=[2] * 4, token_mixers=('repmixer',) * 3 + ('attention',), pos_embs=[None] * 3 +
[RepCPE 7x7], downsamples=[True] * 4, num_classes=10)``, ``vitdense.testing.randomize_`` (seed 0,
std 0.1, BatchNorm statistics included), rounded to fp16 values; uint8 inputs (seed 1 at 48x48,
seed 2 at 45x37), normalised as ``(x / 255 - 0.45) / 0.25``. It holds the training-form state dict,
the four stage outputs at each size, the parameter names and shapes of the official
``reparameterize_model`` result and its stage outputs; ``tools/fixtures/make_fastvit_fixture.py``
regenerates it.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from test_repvgg import _bn_stats_  # non-trivial BatchNorm running statistics
from vitdense.backbones.fastvit import FastViT, convert_fastvit_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, 'tests', 'data', 'fastvit_official_small.pt')

# (training form, fused form) parameters of the ImageNet classifiers (conv_exp + SE + linear head
# included), counted by building the official models/fastvit.py (apple/ml-fastvit, commit 8af5928)
# fastvit_* and its reparameterize_model result. timm's fastvit_* give the same counts.
OFFICIAL_PARAMS = {
    't8': (4_026_232, 3_996_040), 't12': (7_553_704, 7_508_840), 's12': (9_473_576, 9_428_712),
    'sa12': (11_580_968, 11_545_320), 'sa24': (21_554_216, 21_501_288), 'sa36': (31_527_464, 31_457_256),
    'ma36': (44_068_004, 43_984_632),
}


def _head(c, fused):
    """The official classifier on a C-channel last stage: conv_exp (MobileOne depth-wise 3x3 to 2C,
    1x1 scale branch, SE with 2C/16 hidden), linear 2C -> 1000."""
    c2, r = 2 * c, int(2 * c * 0.0625)
    conv = c2 * 9 + c2 if fused else c2 * 9 + 2 * c2 + c2 + 2 * c2
    return conv + (c2 * r + r + r * c2 + c2) + c2 * 1000 + 1000


def _count(m):
    return sum(p.numel() for p in m.parameters()) + _head(m.num_features[-1], m.deploy)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_counts_equal_official_in_both_forms(arch):
    m = FastViT(arch, out_norm=False)
    train = _count(m)
    m.switch_to_deploy()
    assert (train, _count(m)) == OFFICIAL_PARAMS[arch]


@pytest.fixture(scope='module')
def official():
    return torch.load(FIXTURE, weights_only=True)


def _small(official):
    a = official['arch']
    return dict(depths=a['layers'], dims=a['embed_dims'], mlp_ratios=a['mlp_ratios'],
                token_mixers=a['token_mixers'])


@pytest.mark.parametrize('size', ['48', '45x37'])
def test_equals_official_code_in_both_forms(official, size, tmp_path):
    """The official training-form checkpoint (``{'state_dict': ...}`` as the released
    ``fastvit_*.pth.tar``; classifier keys dropped by the converter) loaded through init_cfg gives
    the official stage outputs at a square and an odd size; our switch_to_deploy gives the official
    fused model's outputs, and the official fused names and shapes map onto ours."""
    sd = {k: v.float() for k, v in official['state_dict'].items()}
    path = tmp_path / 'fastvit_small.pth.tar'
    torch.save({'epoch': 300, 'state_dict': sd}, path)
    ours = FastViT(_small(official), out_norm=False, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    assert set(convert_fastvit_checkpoint(sd)) == set(ours.state_dict())
    ours.init_weights()
    ours.eval()
    x = (official[f'x_{size}'].float() / 255 - 0.45) / 0.25
    with torch.no_grad():
        got = ours(x)
    for i, f in enumerate(got):
        assert f.shape[-2:] == (math.ceil(x.shape[2] / 2 ** (i + 2)), math.ceil(x.shape[3] / 2 ** (i + 2)))
        assert_features_close(f, official[f'train_{size}_out{i}'], msg=f'stage {i}')
    ours.switch_to_deploy()
    names = convert_fastvit_checkpoint({k: torch.zeros(s) for k, s in official['deploy_shapes'].items()})
    shapes = {k: list(v.shape) for k, v in ours.state_dict().items()}
    assert {k: list(v.shape) for k, v in names.items()} == shapes
    with torch.no_grad():
        fused = ours(x)
    for i, f in enumerate(fused):
        assert_features_close(f, official[f'deploy_{size}_out{i}'], msg=f'fused stage {i}')


def test_official_dense_norm_names():
    """The official fork_feat backbone's norm0/2/4/6 (after network entries 0, 2, 4, 6) are ours
    norm0..3; timm's norm0..3 pass unchanged."""
    sd = {'network.0.0.layer_scale': torch.zeros(8, 1, 1), 'norm4.weight': torch.zeros(8),
          'network.1.proj.0.lkb_origin.conv.weight': torch.zeros(16, 1, 7, 7), 'norm6.bias': torch.zeros(8)}
    assert set(convert_fastvit_checkpoint(sd)) == {'stages.0.blocks.0.layer_scale.gamma', 'norm2.weight',
                                                   'stages.1.downsample.proj.0.large_conv.conv.weight',
                                                   'norm3.bias'}
    ours = {'norm3.bias': torch.zeros(1), 'stem.0.reparam_conv.weight': torch.zeros(1)}
    assert set(convert_fastvit_checkpoint(ours)) == set(ours)


TIMM_PEERS = [('fastvit_t8', 't8'), ('fastvit_sa12', 'sa12')]


@pytest.mark.parametrize('name,arch', TIMM_PEERS, ids=[p[0] for p in TIMM_PEERS])
def test_equals_timm_in_both_forms_and_through_init_cfg(name, arch, tmp_path):
    """timm's classifier state_dict (training form) and its reparameterized copy (``reparam_conv``)
    load from a file via init_cfg, giving timm's stage features (``forward_intermediates``); square
    and odd sizes."""
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    from timm.utils.model import reparameterize_model
    peer = _bn_stats_(randomize_(timm.create_model(name, pretrained=False), seed=1), seed=2).eval()
    path = tmp_path / f'{name}.pth'
    torch.save(peer.state_dict(), path)
    ours = FastViT(arch, out_norm=False, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    assert set(convert_fastvit_checkpoint(peer.state_dict())) == set(ours.state_dict())
    fused_peer = reparameterize_model(peer).eval()  # a fused copy; peer keeps its branches
    fused_path = tmp_path / f'{name}_fused.pth'
    torch.save(fused_peer.state_dict(), fused_path)
    fused = FastViT(arch, out_norm=False, deploy=True,
                    init_cfg=dict(type='Pretrained', checkpoint=str(fused_path)))
    fused.init_weights()
    fused.eval()
    for hw in [(64, 64), (75, 53)]:
        x = torch.randn(1, 3, *hw, generator=torch.Generator().manual_seed(hw[1]))
        with torch.no_grad():
            ref = peer.forward_intermediates(x, intermediates_only=True)
            ref_fused = fused_peer.forward_intermediates(x, intermediates_only=True)
            got, got_fused = ours(x), fused(x)
        for i in range(4):
            s = 4 * 2 ** i
            shape = (1, ours.num_features[i], math.ceil(hw[0] / s), math.ceil(hw[1] / s))
            assert got[i].shape == ref[i].shape == shape
            assert_features_close(got[i], ref[i])
            assert_features_close(got_fused[i], ref_fused[i])


def test_equals_timm_dense_form_with_output_norms(tmp_path):
    """timm's ``fork_feat=True`` model (the official dense form: a BatchNorm per output) through a
    checkpoint file equals ours with ``out_norm=True``."""
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = _bn_stats_(randomize_(timm.create_model('fastvit_sa12', fork_feat=True), seed=3), seed=4).eval()
    path = tmp_path / 'fork.pth'
    torch.save({'state_dict': peer.state_dict()}, path)
    ours = FastViT('sa12', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    x = torch.randn(1, 3, 61, 47, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        for a, b in zip(ours(x), peer(x)):
            assert_features_close(a, b)


def test_switch_to_deploy_equal_outputs_fewer_parameters_and_form_refusal(tmp_path):
    """Fused outputs equal the branches' (eval mode, fp32, 1e-5 relative); the fused model has fewer
    parameters and no MobileOne branch left; frozen flags survive; a checkpoint of the other form is
    refused with the fix named."""
    m = _bn_stats_(randomize_(FastViT('sa12', frozen_stages=1), seed=6), seed=7).eval()
    x = torch.randn(2, 3, 41, 37, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        ref = m(x)
    n_train = sum(p.numel() for p in m.parameters())
    m.switch_to_deploy()
    with torch.no_grad():
        got = m(x)
    for a, b in zip(got, ref):
        assert_features_close(a, b, rel=1e-5)
    assert sum(p.numel() for p in m.parameters()) < n_train
    names = [k for k, _ in m.named_parameters()]
    branches = ('conv_kxk', 'conv_scale', 'identity', 'large_conv', 'pos_enc', 'token_mixer.mixer')
    assert not any(s in k for k in names for s in branches)
    assert not m.stages[0].blocks[0].token_mixer.reparam_conv.weight.requires_grad
    assert m.stages[1].blocks[0].token_mixer.reparam_conv.weight.requires_grad
    assert m.stages[3].pos_emb.reparam_conv.weight.requires_grad
    path = tmp_path / 'fused.pth'
    torch.save(m.state_dict(), path)
    with pytest.raises(RuntimeError, match='deploy=True'):
        FastViT('sa12', init_cfg=dict(type='Pretrained', checkpoint=str(path))).init_weights()
    path = tmp_path / 'train.pth'
    torch.save(FastViT('sa12').state_dict(), path)
    with pytest.raises(RuntimeError, match='deploy=False'):
        FastViT('sa12', deploy=True, init_cfg=dict(type='Pretrained', checkpoint=str(path))).init_weights()


def test_variants_norm_eval_and_bad_mixer():
    blocks = [type(s.blocks[0]).__name__ for s in FastViT('ma36').stages]
    assert blocks == ['RepMixerBlock'] * 3 + ['AttentionBlock']
    assert FastViT('ma36').out_channels == [76, 152, 304, 608]
    assert FastViT('sa36').stages[0].blocks[0].layer_scale.gamma.flatten()[0].item() == pytest.approx(1e-6)
    assert FastViT('s12').stages[3].pos_emb is None
    m = FastViT('t8', norm_eval=True).train()
    assert m.training and not any(b.training for b in m.modules() if isinstance(b, nn.BatchNorm2d))
    with pytest.raises(ValueError, match='unknown token mixer'):
        FastViT(dict(FastViT.arch_zoo['t8'], token_mixers=('repmixer',) * 3 + ('pool',)))


@pytest.mark.slow
def test_toy_mask_rcnn_fastvit_t8_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/fastvit/mask_rcnn_fastvit_t8_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
