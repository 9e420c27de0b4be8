"""The backbone contract (vitdense/backbones/base.py, docs/adding_a_family.md), checked for every
backbone registered in ``vitdense.registry.MODELS`` that subclasses ``BaseBackbone``.

A family added later is covered by registering it and adding one row to ``CASES`` (its smallest
arch and the keyword arguments it needs); a registered backbone without a row fails here, it is
never skipped. Family files keep only what is their own (parameter counts, equality with the
official code or a peer, converter specifics).
"""
import importlib
import math

import pytest
import torch
from mmengine.registry import DefaultScope

import vitdense  # noqa: F401  (registers every family)
from vitdense.backbones.base import BaseBackbone
from vitdense.registry import MODELS
from vitdense.testing import assert_same_outputs_and_grads, randomize_

# class name -> keyword arguments of its smallest zoo arch (drop path off: outputs must be
# deterministic in train mode for the with_cp comparison)
CASES = {
    'BiFormer': dict(arch='tiny'),
    'CAFormer': dict(arch='s18'),
    'CMT': dict(arch='tiny'),
    'ConvFormer': dict(arch='s18'),
    'CloFormer': dict(arch='xxs'),
    'Conv2Former': dict(arch='nano'),
    'STViTR': dict(arch='small'),
    'DilateFormer': dict(arch='tiny'),
    'ConvNeXt': dict(arch='tiny'),
    'DAT': dict(arch='tiny'),
    'DATPlusPlus': dict(arch='tiny'),
    'EMO': dict(arch='1m'),
    'FCViT': dict(arch='tiny'),
    'FastViT': dict(arch='t8'),
    'FocalTransformer': dict(arch='tiny'),
    'GCViT': dict(arch='xxtiny'),
    'InceptionTransformer': dict(arch='small'),
    'InceptionNeXt': dict(arch='atto'),
    'LITv2': dict(arch='small'),
    'MobileViT': dict(arch='xxs'),
    'PoolFormer': dict(arch='s12'),
    'PVT': dict(arch='tiny'),
    'AgentSwinTransformer': dict(arch='tiny'), 'AgentPVT': dict(arch='tiny'),
    'PVTv2': dict(arch='b0'),
    'RepNeXt': dict(arch='m0'),
    'RepVGG': dict(arch='a0'),
    'ScopeViT': dict(arch='xtiny'),
    'ShuntedTransformer': dict(arch='tiny'),
    'ShuffleNetV1': dict(arch='g3_0.5x'),
    'ShuffleNetV2': dict(arch='0.5x'),
    'SMT': dict(arch='tiny'),
    'SwinTransformer': dict(arch='tiny'),
    'TransNeXt': dict(arch='micro'),
    'TwinsPCPVT': dict(arch='small'),
    'TwinsSVT': dict(arch='small'),
    'UniRepLKNet': dict(arch='atto'),
    'ViT': dict(arch='tiny', img_size=64, out_indices=(2, 5, 8, 11)),
    'ViTAdapter': dict(arch='tiny', img_size=64),
}
# the largest last: the every-parameter-gets-a-gradient check runs there (on 1-pixel maps a
# single key makes query gradients vanish by construction)
SIZES = [(5, 3), (33, 47), (97, 61), (160, 224)]
# backbones whose first output does not come from the first stages that frozen_stages freezes
FROZEN_OUTPUT_EXEMPT = {'ViTAdapter': 'its maps come from the adapter, which always trains'}


def _registered():
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and issubclass(cls, BaseBackbone))


REGISTERED = _registered()


def _kwargs(name, **extra):
    if name not in CASES:
        pytest.fail(f'{name} is registered but has no row in CASES of tests/test_backbone_contract.py; '
                    f'add its smallest arch there')
    kw = dict(CASES[name], drop_path_rate=0.0)
    kw.update(extra)
    return kw


def _build(name, **extra):
    torch.manual_seed(0)
    model = MODELS.get(name)(**_kwargs(name, **extra))
    model.init_weights()
    return model


def test_every_registered_backbone_has_a_case():
    assert len(REGISTERED) >= 16
    assert sorted(CASES) == REGISTERED, (
        f'not in CASES: {sorted(set(REGISTERED) - set(CASES))}; '
        f'in CASES but not registered: {sorted(set(CASES) - set(REGISTERED))}')


def _check_outputs(model, outs, hw):
    info = model.feature_info
    assert isinstance(outs, (tuple, list)) and len(outs) == len(info) == len(model.out_channels)
    assert model.out_channels == [f['num_chs'] for f in info]
    assert [f['index'] for f in info] == list(model.out_indices)
    for out, f in zip(outs, info):
        expected = (math.ceil(hw[0] / f['reduction']), math.ceil(hw[1] / f['reduction']))
        assert tuple(out.shape[1:]) == (f['num_chs'], *expected), (f, tuple(out.shape))
        assert torch.isfinite(out).all()


@pytest.mark.parametrize('name', REGISTERED)
def test_any_input_size_forward_backward_match_feature_info(name):
    # random weights: zero-initialised ones (layer scales, offsets, bias tables) must not hide a
    # parameter that gets no gradient
    model = randomize_(_build(name), seed=2).train()
    for hw in SIZES:
        model.zero_grad()
        x = torch.randn(2, 3, *hw)  # batch 2: BatchNorm trains on 1x1 maps too
        outs = model(x)
        _check_outputs(model, outs, hw)
        sum(o.square().mean() for o in outs).backward()
        for n, p in model.named_parameters():
            assert p.grad is None or torch.isfinite(p.grad).all(), n
    # with every stage returned, every parameter gets a gradient (checked at the last size)
    if len(model.out_indices) == len(model.num_features):
        missing = [n for n, p in model.named_parameters()
                   if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
        assert missing == [], f'{name}: parameters without gradient: {missing[:8]}'


@pytest.mark.parametrize('name', REGISTERED)
def test_out_indices_subset_and_negative(name):
    n = len(_build(name).num_features)
    model = _build(name, out_indices=(0, -1)).eval()
    assert model.out_indices == (0, n - 1)
    with torch.no_grad():
        _check_outputs(model, model(torch.randn(1, 3, 45, 39)), (45, 39))
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.get(name)(**_kwargs(name, out_indices=(n, )))


@pytest.mark.parametrize('name', REGISTERED)
def test_bad_arch_names_the_valid_ones(name):
    cls = MODELS.get(name)
    with pytest.raises(ValueError, match=r"unknown arch 'no-such-arch'.*valid names"):
        cls(**_kwargs(name, arch='no-such-arch'))
    with pytest.raises(ValueError, match='missing'):
        cls(**_kwargs(name, arch=dict()))


def test_arch_spelling_rule():
    """Case and '-' / '_' do not matter in arch names (mmpretrain writes 'deit-tiny', timm 'deit_tiny')."""
    from vitdense.backbones.base import resolve_arch
    zoo = {'b2_li': dict(a=1), 'deit-tiny': dict(a=2)}
    for spelling, a in [('b2_li', 1), ('B2-LI', 1), ('deit_tiny', 2), ('DeiT-Tiny', 2)]:
        assert resolve_arch(spelling, zoo, ['a'], 'X') == dict(a=a)
    with pytest.raises(ValueError, match='unknown arch'):
        resolve_arch('b2li', zoo, ['a'], 'X')


@pytest.mark.parametrize('name', REGISTERED)
def test_every_zoo_name_builds_under_the_spelling_rule(name):
    cls = MODELS.get(name)
    arch = _kwargs(name)['arch']
    respelled = arch.upper().replace('_', '-') if '_' in arch else arch.upper()
    a = _build(name)
    b = cls(**_kwargs(name, arch=respelled))
    assert [tuple(p.shape) for p in a.parameters()] == [tuple(p.shape) for p in b.parameters()]


def _fully_frozen_modules(model):
    """Modules that own parameters, all of them frozen."""
    return [(n, m) for n, m in model.named_modules()
            if any(True for _ in m.parameters()) and not any(p.requires_grad for p in m.parameters())]


@pytest.mark.parametrize('name', REGISTERED)
def test_frozen_stages(name):
    free = _build(name, frozen_stages=-1).train()
    assert all(p.requires_grad for p in free.parameters())
    frozen_sets = []
    for k in (0, 1, 2):
        model = _build(name, frozen_stages=k, out_indices=(0, -1))
        model.train()
        frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
        assert frozen and len(frozen) < len(list(model.parameters())), (k, len(frozen))
        for n, m in _fully_frozen_modules(model):
            assert not any(s.training for s in m.modules()), f'{name}: frozen {n} is in train mode'
        # what is still trainable stays in train mode
        assert all(m.training for n, m in model.named_modules()
                   if any(p.requires_grad for p in m.parameters(recurse=False)))
        frozen_sets.append(frozen)
        if k >= 1 and name not in FROZEN_OUTPUT_EXEMPT:
            # the first stage's map depends on frozen parameters only (its output norm aside: some
            # families freeze it with its stage, others leave it to the neck)
            out0 = model(torch.randn(1, 3, 64, 64))[0]
            live = [n for n, p in model.named_parameters() if p.requires_grad]
            reached = []
            if out0.requires_grad:
                grads = torch.autograd.grad(out0.sum(), [dict(model.named_parameters())[n] for n in live],
                                            allow_unused=True)
                reached = [n for n, g in zip(live, grads) if g is not None and g.abs().sum() > 0]
            assert all('norm' in n.split('.')[0] for n in reached), f'{name}: {reached[:8]}'
    assert frozen_sets[0] < frozen_sets[1] < frozen_sets[2]


@pytest.mark.parametrize('name', REGISTERED)
def test_with_cp_same_outputs_and_grads(name):
    a = randomize_(_build(name), seed=4).train()
    b = _build(name, with_cp=True).train()
    b.load_state_dict(a.state_dict())
    assert_same_outputs_and_grads(a, b, torch.randn(1, 3, 61, 45))


@pytest.fixture(scope='module')
def foreign_checkpoints(tmp_path_factory):
    """A ConvNeXt and a Swin checkpoint (the foreign family for everyone, and for ConvNeXt)."""
    out = {}
    for name in ('ConvNeXt', 'SwinTransformer'):
        path = tmp_path_factory.mktemp('foreign') / f'{name}.pth'
        torch.save({'state_dict': MODELS.get(name)(arch='tiny').state_dict()}, path)
        out[name] = str(path)
    return out


@pytest.mark.parametrize('name', REGISTERED)
def test_checkpoint_of_another_family_is_refused(name, foreign_checkpoints):
    other = 'SwinTransformer' if name == 'ConvNeXt' else 'ConvNeXt'
    model = MODELS.get(name)(**_kwargs(name, init_cfg=dict(type='Pretrained',
                                                           checkpoint=foreign_checkpoints[other])))
    # refused by coverage, or (families sharing a stem layout) by the first mismatching shape
    clear = rf'{name}: (no parameter .* another family|checkpoint tensor .* expects)'
    with pytest.raises(RuntimeError, match=clear):
        model.init_weights()


@pytest.mark.parametrize('name', REGISTERED)
def test_own_checkpoint_round_trips_through_init_cfg(name, tmp_path):
    src = _build(name)
    with torch.no_grad():  # away from any initialisation the target could reproduce by itself
        for p in src.parameters():
            p.add_(torch.rand_like(p))
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': src.state_dict(), 'meta': dict(note='ours')}, path)
    torch.manual_seed(1)
    dst = MODELS.get(name)(**_kwargs(name, init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    dst.init_weights()
    want, got = src.state_dict(), dst.state_dict()
    assert sorted(want) == sorted(got)
    for k in want:
        assert torch.equal(want[k], got[k]), k


@pytest.mark.parametrize('lib', ['mmdet', 'mmseg', 'mmpretrain'])
@pytest.mark.parametrize('name', REGISTERED)
def test_builds_from_each_library_scope(name, lib):
    importlib.import_module(f'{lib}.models')
    reg = importlib.import_module(f'{lib}.registry')
    with DefaultScope.overwrite_default_scope(lib):
        model = reg.MODELS.build(dict(type=f'vitdense.{name}', **_kwargs(name)))
    assert type(model) is MODELS.get(name)
