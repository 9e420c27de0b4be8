"""MetaFormer baselines fidelity (PoolFormer, ConvFormer, CAFormer): parameter counts of the official
models, equal stage features to timm's ``poolformer_s12`` / ``convformer_s18`` / ``caformer_s18``
and mmpretrain's ``PoolFormer`` given the same weights (through our converters, directly and from a
saved checkpoint file via ``init_cfg``), the official release layouts, the stem's padding rule and
a toy detection run. timm and mmpretrain are the peers, so there is no official-code fixture."""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.metaformer import (CAFormer, ConvFormer, MapAttention, PoolFormer,
                                           convert_metaformer_checkpoint, convert_poolformer_checkpoint)
from vitdense.testing import assert_features_close, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [(64, 64), (63, 95)]  # 63 and 95 are 3 mod 4: the official stem already gives ceil there

# Parameters of the ImageNet-1k classifiers (backbone + final norm + head), counted by building the
# official model definitions: sail-sg/poolformer models/poolformer.py (commit a075575b) for
# PoolFormer (linear head), sail-sg/metaformer metaformer_baselines.py (commit 64c534ab) for
# ConvFormer/CAFormer (MlpHead: Linear 4x -> SquaredReLU -> LayerNorm -> Linear); timm 1.0.31's
# poolformer_* / convformer_* / caformer_* give the same numbers.
OFFICIAL_PARAMS = {
    (PoolFormer, 's12'): 11_915_176, (PoolFormer, 's24'): 21_388_968, (PoolFormer, 's36'): 30_862_760,
    (PoolFormer, 'm36'): 56_172_520, (PoolFormer, 'm48'): 73_473_448,
    (ConvFormer, 's18'): 26_774_448, (ConvFormer, 's36'): 40_012_152, (ConvFormer, 'm36'): 57_051_640,
    (ConvFormer, 'b36'): 99_882_616,
    (CAFormer, 's18'): 26_341_656, (CAFormer, 's36'): 39_297_102, (CAFormer, 'm36'): 56_204_878,
    (CAFormer, 'b36'): 98_753_614,
}
SMALL_V2 = dict(depths=(1, 1, 2, 1), dims=(16, 32, 64, 96))


def _head_params(cls, dim):
    if cls is PoolFormer:
        return dim * 1000 + 1000
    return (dim * 4 * dim + 4 * dim) + 2 * 4 * dim + (4 * dim * 1000 + 1000)  # official MlpHead


@pytest.mark.parametrize('cls,arch', sorted(OFFICIAL_PARAMS, key=lambda k: (k[0].__name__, k[1])),
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_param_count_equals_official(cls, arch):
    m = cls(arch, out_indices=(3, ))  # norm3 has the shape of the classifier's final norm
    n = sum(p.numel() for p in m.parameters()) + _head_params(cls, m.num_features[-1])
    assert n == OFFICIAL_PARAMS[(cls, arch)]


TIMM_PEERS = [('poolformer_s12', PoolFormer, 's12', convert_poolformer_checkpoint),
              ('convformer_s18', ConvFormer, 's18', convert_metaformer_checkpoint),
              ('caformer_s18', CAFormer, 's18', convert_metaformer_checkpoint)]


@pytest.mark.parametrize('name,cls,arch,convert', TIMM_PEERS, ids=[p[0] for p in TIMM_PEERS])
def test_equals_timm_directly_and_through_init_cfg(name, cls, arch, convert, tmp_path):
    """timm's forward_intermediates are the raw stage outputs: ours with out_norm=False. Loaded
    once through the converter (every key matched; timm's head.norm becomes norm3, unused here) and
    once from timm's state_dict saved to a file, through init_cfg."""
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = randomize_(timm.create_model(name, pretrained=False), seed=1).eval()
    direct = cls(arch, out_norm=False).eval()
    result = direct.load_state_dict(convert(peer.state_dict()), strict=False)
    assert result.missing_keys == [] and set(result.unexpected_keys) == {'norm3.weight', 'norm3.bias'}
    path = tmp_path / f'{name}.pth'
    torch.save(peer.state_dict(), path)
    loaded = cls(arch, out_norm=False, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
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
            assert fb.shape == fa.shape == (2, direct.num_features[i], math.ceil(hw[0] / s), math.ceil(hw[1] / s))
            assert_features_close(fb, fa)
            assert_features_close(fc, fa)


def _mmpretrain_poolformer_s12():
    from mmpretrain.models.backbones import PoolFormer as MMPoolFormer
    peer = randomize_(MMPoolFormer('s12', out_indices=(0, 2, 4, 6)), seed=2)
    peer.eval()  # mmpretrain's train() does not return the module
    return peer


def test_equals_mmpretrain_with_output_norms_through_init_cfg(tmp_path):
    """mmpretrain's PoolFormer has the official dense layout (network.N, norm0/2/4/6 GroupNorms);
    saved as an mmdet detector checkpoint ('state_dict', 'backbone.' prefix) it loads through
    init_cfg with every key matched and gives the same normed stage features."""
    peer = _mmpretrain_poolformer_s12()
    assert convert_poolformer_checkpoint(peer.state_dict()).keys() == PoolFormer('s12').state_dict().keys()
    path = tmp_path / 'mask_rcnn_poolformer_s12.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in peer.state_dict().items()}, 'meta': {}}, path)
    ours = PoolFormer('s12', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    for hw in SIZES:
        x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(hw[0]))
        with torch.no_grad():
            ref, got = peer(x), ours(x)
        assert len(ref) == len(got) == 4
        for fa, fb in zip(ref, got):
            assert fb.shape == fa.shape
            assert_features_close(fb, fa)


def test_official_poolformer_classifier_layout_loads(tmp_path):
    """The official release file (patch_embed.proj, network.N with layer_scale_1/2, the final
    GroupNorm 'norm', 'head'): the stage weights load exactly, the final norm becomes norm3, the
    head is dropped; the mmpretrain/official dense norm0/2/4/6 become norm0..3."""
    peer = _mmpretrain_poolformer_s12()
    sd = peer.state_dict()
    official = {k: v for k, v in sd.items() if not k.startswith('norm')}
    official['norm.weight'], official['norm.bias'] = sd['norm6.weight'], sd['norm6.bias']
    official['head.weight'], official['head.bias'] = torch.randn(1000, 512), torch.randn(1000)
    path = tmp_path / 'poolformer_s12.pth.tar'
    torch.save(official, path)
    ours = PoolFormer('s12', out_indices=(3, ), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    got = ours.state_dict()
    conv = convert_poolformer_checkpoint(sd)
    assert set(got) == {k for k in conv if not k.startswith(('norm0', 'norm1', 'norm2'))}
    for k, v in got.items():
        assert torch.equal(v, conv[k]), k
    assert torch.equal(got['downsample_layers.2.conv.weight'], sd['network.3.proj.weight'])
    assert torch.equal(got['stages.3.1.layer_scale2.scale'], sd['network.6.1.layer_scale_2'])


@pytest.mark.parametrize('cls', [ConvFormer, CAFormer])
def test_official_metaformer_classifier_layout_loads(cls, tmp_path):
    """The official ConvFormer/CAFormer release is our layout plus the final LayerNorm 'norm' and the
    MLP head: it loads exactly, 'norm' into norm3, the head dropped."""
    src = randomize_(cls(SMALL_V2, out_indices=(3, )), seed=3)
    official = {k.replace('norm3.', 'norm.'): v for k, v in src.state_dict().items()}
    official.update({'head.fc1.weight': torch.randn(384, 96), 'head.fc1.bias': torch.randn(384),
                     'head.norm.weight': torch.randn(384), 'head.norm.bias': torch.randn(384),
                     'head.fc2.weight': torch.randn(1000, 384), 'head.fc2.bias': torch.randn(1000)})
    assert 'downsample_layers.0.post_norm.weight' in official and 'downsample_layers.1.pre_norm.weight' in official
    path = tmp_path / 'official.pth'
    torch.save(official, path)
    dst = cls(SMALL_V2, out_indices=(3, ), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    got = dst.state_dict()
    assert set(got) == set(src.state_dict())
    for k, v in src.state_dict().items():
        assert torch.equal(got[k], v), k


def test_caformer_mixers_and_attention_channel_rule():
    """Separable convs in stages 0-1, attention in 2-3 (ConvFormer: separable convs throughout); no
    position table, so nothing in the state dict depends on the input size."""
    ca, cf = CAFormer(SMALL_V2), ConvFormer(SMALL_V2)
    assert [type(s[0].token_mixer).__name__ for s in ca.stages] == ['SepConv', 'SepConv', 'MapAttention',
                                                                    'MapAttention']
    assert {type(s[0].token_mixer).__name__ for s in cf.stages} == {'SepConv'}
    assert ca.stages[2][0].token_mixer.num_heads == 2 and ca.stages[2][0].token_mixer.proj.bias is None
    assert list(ca.buffers()) == []  # no position/index tables
    with pytest.raises(ValueError, match='multiples of 32'):
        MapAttention(48)


def test_stem_pads_4k_plus_1_inputs_to_ceil_without_dropping_pixels():
    """At H = 4k+1 the official 7x7/4/pad-2 stem floors (k cells); ours gives k+1 and the last
    input row reaches the output."""
    for cls in (PoolFormer, ConvFormer):
        m = randomize_(cls(dict(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)), out_indices=(0, )), seed=5).eval()
        x = torch.randn(1, 3, 33, 30)
        y = x.clone()
        y[..., 32, :] += 1.0
        with torch.no_grad():
            a, b = m(x)[0], m(y)[0]
        assert a.shape[-2:] == (9, 8)
        assert not torch.allclose(a[..., -1, :], b[..., -1, :])


def test_residual_and_layer_scales():
    """PoolFormer: layer scales (1e-5 for S12, 1e-6 for S36), no residual scales; ConvFormer: residual
    scales (init 1) on the last two stages only, no layer scales; StarReLU scalars learnable."""
    pf = PoolFormer('s12')
    assert pf.stages[0][0].layer_scale1.scale.eq(1e-5).all()
    assert PoolFormer('s36').stages[0][0].layer_scale2.scale.eq(1e-6).all()
    assert not any('res_scale' in k for k in pf.state_dict())
    cf = ConvFormer(SMALL_V2)
    keys = cf.state_dict().keys()
    assert not any('layer_scale' in k for k in keys)
    assert {int(k.split('.')[1]) for k in keys if 'res_scale' in k} == {2, 3}
    assert cf.stages[0][0].mlp.act.scale.requires_grad and cf.stages[0][0].token_mixer.act1.bias.numel() == 1
    with pytest.raises(ValueError, match='res_scale_init_values'):
        ConvFormer(SMALL_V2, res_scale_init_values=(None, 1.0))


@pytest.mark.slow
def test_toy_mask_rcnn_poolformer_s12_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/metaformer/mask_rcnn_poolformer_s12_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
