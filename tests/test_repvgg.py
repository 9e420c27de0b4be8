"""RepVGG fidelity: parameter counts of the official models in both forms, equal stage features to
the official code (fixture), to timm's ``repvgg_*`` and to mmpretrain's ``RepVGG`` given the same
weights (directly and from each library's checkpoint file through ``init_cfg``), the fused form
(``switch_to_deploy`` equal to the branches, each library's fused checkpoints), the refusal of a
checkpoint in the other form, and a toy detection run.

``tests/data/repvgg_official_small.pt`` comes from DingXiaoH/RepVGG at commit eae7c52, its
``repvgg.py`` and ``se_block.py`` imported unchanged: ``RepVGG(num_blocks=[1, 2, 2, 1],
width_multiplier=[0.25, 0.25, 0.125, 0.0625], override_groups_map={2: 2, 4: 2, 6: 2}, use_se=True,
num_classes=10)``, ``vitdense.testing.randomize_`` (seed 0, std 0.1, BatchNorm statistics
included), rounded to fp16 values; uint8 input (seed 1) at 48x48, normalised as
``(x / 255 - 0.45) / 0.25``. It holds the training-form state dict, the four stage outputs, the
parameter names and shapes of the official ``repvgg_model_convert`` result and its stage outputs;
``tools/fixtures/make_repvgg_fixture.py`` regenerates it.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.repvgg import RepVGG, convert_repvgg_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, 'tests', 'data', 'repvgg_official_small.pt')

# (training form, fused form) parameters of the ImageNet classifiers (linear head included),
# counted by building the official repvgg.py (DingXiaoH/RepVGG, commit eae7c52) create_RepVGG_*
# with deploy=False / True. Paper, Table 2 (fused): A0 8.30M, A1 12.78M, A2 25.49M, B0 14.33M,
# B1 51.82M, B1g2 41.36M, B1g4 36.12M, B2 80.31M, B2g2 63.95M, B2g4 55.77M, B3 110.96M, B3g2
# 87.40M, B3g4 75.62M (the paper truncates).
OFFICIAL_PARAMS = {
    'a0': (9_108_968, 8_309_384), 'a1': (14_092_264, 12_789_864), 'a2': (28_210_600, 25_499_944),
    'b0': (15_817_960, 14_339_048), 'b1': (57_415_016, 51_829_480), 'b1g2': (45_782_376, 41_360_104),
    'b1g4': (39_966_056, 36_125_416), 'b2': (89_022_376, 80_315_112), 'b2g2': (70_846_376, 63_956_712),
    'b2g4': (61_758_376, 55_777_512), 'b3': (123_085_288, 110_960_872), 'b3g2': (96_911_848, 87_404_776),
    'b3g4': (83_825_128, 75_626_728), 'd2se': (133_334_836, 120_387_572),
}
SMALL = dict(depths=(1, 2, 2, 1), widths=(16, 32, 32, 32), stem_channels=16, groups=2, use_se=True)


def _count(m):
    return sum(p.numel() for p in m.parameters()) + m.num_features[-1] * 1000 + 1000


def _bn_stats_(model, seed):
    """Non-trivial running statistics (a fresh BatchNorm's mean 0 / var 1 would hide a fusion error)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_counts_equal_official_in_both_forms(arch):
    m = RepVGG(arch)
    train = _count(m)
    m.switch_to_deploy()
    assert (train, _count(m)) == OFFICIAL_PARAMS[arch]


@pytest.fixture(scope='module')
def official():
    return torch.load(FIXTURE, weights_only=True)


def _x(official):
    return (official['x_48'].float() / 255 - 0.45) / 0.25


def test_equals_official_code_in_both_forms(official):
    """The official training-form state dict through the converter gives the official stage
    outputs; our switch_to_deploy gives the official fused model's outputs and parameter names."""
    ours = RepVGG(SMALL).eval()
    sd = {k: v.float() for k, v in official['state_dict'].items()}
    conv = convert_repvgg_checkpoint(sd)
    assert set(conv) == set(ours.state_dict())
    ours.load_state_dict(conv, strict=True)
    with torch.no_grad():
        got = ours(_x(official))
    for i, f in enumerate(got):
        assert_features_close(f, official[f'train_48_out{i}'], msg=f'stage {i}')
    ours.switch_to_deploy()
    names = convert_repvgg_checkpoint({k: torch.zeros(s) for k, s in official['deploy_shapes'].items()})
    assert {k: list(v.shape) for k, v in names.items()} == {k: list(v.shape) for k, v in ours.state_dict().items()}
    with torch.no_grad():
        fused = ours(_x(official))
    for i, f in enumerate(fused):
        assert_features_close(f, official[f'deploy_48_out{i}'], msg=f'fused stage {i}')


def test_groups_on_every_second_layer_and_se_hidden_width():
    """b1g4: 4 groups on layers 2, 4, ... counting from the first layer after the stem (the
    official optional_groupwise_layers), none on the stem or the last layer; d2se's SE has C // 16
    hidden channels."""
    m = RepVGG('b1g4')
    layers = [b for s in m.stages for b in s]
    assert [b.conv3x3.conv.groups for b in layers] == [4 if (i + 1) % 2 == 0 else 1 for i in range(len(layers))]
    assert layers[-1].conv3x3.conv.groups == 1 and m.stem.conv3x3.conv.groups == 1
    d = RepVGG('d2se')
    assert d.stem.se.down.out_channels == 4 and d.stages[3][0].se.down.out_channels == 160
    assert m.out_channels == [128, 256, 512, 2048] and d.out_channels == [160, 320, 640, 2560]


TIMM_PEERS = [('repvgg_a0', 'a0'), ('repvgg_b1g4', 'b1g4')]


@pytest.mark.parametrize('name,arch', TIMM_PEERS, ids=[p[0] for p in TIMM_PEERS])
def test_equals_timm_in_both_forms_and_through_init_cfg(name, arch, tmp_path):
    """timm's state_dict (training form) and its reparameterized one (``reparam_conv``) load through
    the converter and from a file via init_cfg, giving timm's stage features; square and odd sizes."""
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = _bn_stats_(randomize_(timm.create_model(name, pretrained=False), seed=1), seed=2).eval()
    path = tmp_path / f'{name}.pth'
    torch.save(peer.state_dict(), path)
    ours = RepVGG(arch, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    assert set(convert_repvgg_checkpoint(peer.state_dict())) == set(ours.state_dict())
    from timm.utils.model import reparameterize_model
    fused_peer = reparameterize_model(peer).eval()  # a fused copy; peer keeps its branches
    fused_path = tmp_path / f'{name}_fused.pth'
    torch.save(fused_peer.state_dict(), fused_path)
    fused = RepVGG(arch, deploy=True, init_cfg=dict(type='Pretrained', checkpoint=str(fused_path)))
    fused.init_weights()
    fused.eval()
    for hw in [(64, 64), (75, 53)]:
        x = torch.randn(1, 3, *hw, generator=torch.Generator().manual_seed(hw[1]))
        with torch.no_grad():
            ref = peer.forward_intermediates(x, intermediates_only=True)[-4:]
            ref_fused = fused_peer.forward_intermediates(x, intermediates_only=True)[-4:]
            got, got_fused = ours(x), fused(x)
        for i in range(4):
            s = 4 * 2 ** i
            assert got[i].shape == ref[i].shape == (1, ours.num_features[i], math.ceil(hw[0] / s), math.ceil(hw[1] / s))
            assert_features_close(got[i], ref[i])
            assert_features_close(got_fused[i], ref_fused[i])


@pytest.mark.parametrize('use_se', [False, True], ids=['plain', 'se'])
def test_equals_mmpretrain_in_both_forms_and_through_init_cfg(use_se, tmp_path):
    """mmpretrain's RepVGG and its switch_to_deploy form, each saved as an mmpretrain
    ImageClassifier checkpoint ('state_dict', 'backbone.' keys, head), load through init_cfg and
    give mmpretrain's stage features. With squeeze-excitation (D2se), mmpretrain 1.2's fused block
    returns the fused conv before its SE layer (``if self.deploy: return self.branch_reparam(x)``),
    so its fused model differs from its own training form; ours (and the official one) applies the
    SE after the fused conv and equals the training form, which is what is compared there."""
    pytest.importorskip('mmpretrain')
    from mmpretrain.models.backbones import RepVGG as PeerRepVGG
    arch = dict(num_blocks=[1, 2, 2, 1], width_factor=[0.25, 0.25, 0.125, 0.0625], group_layer_map={2: 2, 4: 2, 6: 2},
                se_cfg=dict(ratio=16, divisor=1) if use_se else None, stem_channels=64)
    peer = _bn_stats_(randomize_(PeerRepVGG(arch, out_indices=(0, 1, 2, 3)), seed=3), seed=4)
    peer.eval()  # mmpretrain's train() returns None
    mine = dict(depths=(1, 2, 2, 1), widths=(16, 32, 32, 32), stem_channels=16, groups=2, use_se=use_se)

    def save(model, name):
        sd = {'backbone.' + k: v for k, v in model.state_dict().items()}
        sd.update({'head.fc.weight': torch.randn(10, 32), 'head.fc.bias': torch.randn(10)})
        torch.save({'state_dict': sd, 'meta': {'mmpretrain_version': '1.2.0'}}, tmp_path / name)
        return str(tmp_path / name)

    ours = RepVGG(mine, init_cfg=dict(type='Pretrained', checkpoint=save(peer, 'train.pth')))
    ours.init_weights()
    ours.eval()
    x = torch.randn(1, 3, 47, 61, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref_train, got = peer(x), ours(x)
    for a, b in zip(got, ref_train):
        assert_features_close(a, b)
    peer.switch_to_deploy()
    fused = RepVGG(mine, deploy=True, init_cfg=dict(type='Pretrained', checkpoint=save(peer, 'deploy.pth')))
    fused.init_weights()
    fused.eval()
    with torch.no_grad():
        ref_fused, got = peer(x), fused(x)
    for a, b, c in zip(got, ref_fused, ref_train):
        if use_se:
            assert_features_close(a, c)
            assert not torch.allclose(b, c, rtol=1e-2, atol=1e-2)  # mmpretrain's fused SE model
        else:
            assert_features_close(a, b)


def test_switch_to_deploy_equal_outputs_fewer_parameters_and_form_refusal(tmp_path):
    """Fused outputs equal the branches' (eval mode, fp32, 1e-5 relative); the fused model has fewer
    parameters and no BatchNorm; frozen flags survive; a checkpoint of the other form is refused
    with the fix named."""
    m = _bn_stats_(randomize_(RepVGG(SMALL, frozen_stages=1), seed=6), seed=7).eval()
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
    assert not any(isinstance(b, nn.BatchNorm2d) for b in m.modules())
    assert not m.stem.reparam.weight.requires_grad and m.stages[1][0].reparam.weight.requires_grad
    path = tmp_path / 'fused.pth'
    torch.save(m.state_dict(), path)
    with pytest.raises(RuntimeError, match='deploy=True'):
        RepVGG(SMALL, init_cfg=dict(type='Pretrained', checkpoint=str(path))).init_weights()
    path = tmp_path / 'train.pth'
    torch.save(RepVGG(SMALL).state_dict(), path)
    with pytest.raises(RuntimeError, match='deploy=False'):
        RepVGG(SMALL, deploy=True, init_cfg=dict(type='Pretrained', checkpoint=str(path))).init_weights()


def test_norm_eval_and_bad_groups():
    m = RepVGG(SMALL, norm_eval=True).train()
    assert m.training and not any(b.training for b in m.modules() if isinstance(b, nn.BatchNorm2d))
    with pytest.raises(ValueError, match='divisible by groups=3'):
        RepVGG(dict(SMALL, groups=3))


@pytest.mark.slow
def test_toy_mask_rcnn_repvgg_a0_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/repvgg/mask_rcnn_repvgg_a0_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
