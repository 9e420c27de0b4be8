"""PVT v1 and PVTv2 fidelity: parameter counts of the official classifiers, equal features to the
official v1 detection model (stored fixture), to mmdet's PyramidVisionTransformer(V2) and timm's
pvt_v2_* given the same weights (through our converters), any input size, freezing, checkpointing,
checkpoint loading and a toy Mask R-CNN run."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.pvt import PVT, PVTv2, convert_pvt_checkpoint, convert_pvtv2_checkpoint
from vitdense.testing import assert_features_close, params_without_gradient, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Exact parameter counts of the official ImageNet-1k classifiers, computed by instantiating the
# official model definitions (whai362/PVT: branch v1 @ 0e117e5f ``pvt.py`` for v1, branch v2 @
# c18e709f ``classification/pvt_v2.py`` for v2). The official READMEs round them to
# 13.2/24.5/44.2/61.4M (v1) and 3.7/14.0/25.4/22.6/45.2/62.6/82.0M (v2); timm's pvt_v2_* give the
# same v2 counts.
OFFICIAL_PARAMS_V1 = {'tiny': 13_229_288, 'small': 24_485_864, 'medium': 44_208_104, 'large': 61_369_320}
OFFICIAL_PARAMS_V2 = {'b0': 3_666_760, 'b1': 14_009_000, 'b2': 25_362_856, 'b2_li': 22_553_512,
                      'b3': 45_238_696, 'b4': 62_556_072, 'b5': 81_956_008}


def _numel(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS_V1))
def test_pvt_param_count_equals_official(arch):
    # The v1 classifier = our backbone with its final norm (norm4) + the class token, the class
    # token's stage-4 position (dropped from our dense model, as in the official detection code)
    # and the 1000-way head.
    m = PVT(arch, final_norm=True)
    c = m.num_features[-1]
    assert _numel(m, nn.Linear(c, 1000)) + 2 * c == OFFICIAL_PARAMS_V1[arch]


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS_V2))
def test_pvtv2_param_count_equals_official(arch):
    m = PVTv2(arch)
    assert _numel(m, nn.Linear(m.num_features[-1], 1000)) == OFFICIAL_PARAMS_V2[arch]


def _set_ln_eps(module, eps):
    for m in module.modules():
        if isinstance(m, nn.LayerNorm):
            m.eps = eps
    return module


def test_pvt_equals_official_detection_model():
    """Fixture ``tests/data/pvt_official_small.pt``: the official PVT v1 *detection* backbone
    (whai362/PVT branch v1 @ 0e117e5f3b43e928615c90291ae4d758eb9296ca, ``detection/pvt.py``,
    ``PyramidVisionTransformer``) with a small arch (dims 8-16-24-32, depths 1-2-1-1, heads 1-2-3-4,
    mlp ratio 2, sr 8-4-2-1, img_size 64, LayerNorm eps 1e-6 in the blocks), weights from
    ``randomize_(seed=7)``; run locally on a 64x64 input (position embeddings used as they are) and
    a 96x128 input (bilinearly resized), outputs saved. Official key names, stage-4 position
    embedding with the class position. Inputs: ``torch.manual_seed(1)``, then ``randn`` of each size.
    Regenerate with ``tools/fixtures/make_pvt_fixture.py``."""
    data = torch.load(os.path.join(ROOT, 'tests/data/pvt_official_small.pt'), weights_only=True)
    arch = dict(embed_dims=(8, 16, 24, 32), depths=(1, 2, 1, 1), num_heads=(1, 2, 3, 4),
                mlp_ratios=(2, 2, 2, 2), sr_ratios=(8, 4, 2, 1))
    ours = PVT(arch, pretrain_img_size=64, drop_path_rate=0.0)
    ours.load_state_dict(convert_pvt_checkpoint(data['state_dict']), strict=True)
    ours.eval()
    for name in ('x_pretrain_size', 'x_resized'):
        with torch.no_grad():
            got = ours(data[name])
        assert_features_close(got, [data[f'{name}_out{i}'] for i in range(4)])


def mmdet_peer(version):
    import mmdet.models  # noqa: F401
    from mmdet.registry import MODELS as MMDET
    if version == 1:
        return MMDET.build(dict(type='mmdet.PyramidVisionTransformer', num_layers=[2, 2, 2, 2], drop_path_rate=0.0))
    return MMDET.build(dict(type='mmdet.PyramidVisionTransformerV2', embed_dims=32, num_layers=[2, 2, 2, 2],
                            drop_path_rate=0.0))


# mmdet uses one LayerNorm eps (1e-6) everywhere; the official code (and ours) keeps PyTorch's 1e-5
# in the patch-embedding and spatial-reduction norms. For the comparison ours is set to mmdet's eps.
@pytest.mark.parametrize('size', [(224, 224), (256, 320)])
def test_pvt_equals_mmdet_given_same_weights(size):
    peer = randomize_(mmdet_peer(1), seed=1)
    peer.eval()
    ours = _set_ln_eps(PVT('tiny', drop_path_rate=0.0), 1e-6)
    ours.load_state_dict(convert_pvt_checkpoint(peer.state_dict()), strict=True)
    ours.eval()
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_features_close(ours(x), peer(x))


# mmdet's PVTv2 floors the key reduction like the official code: sr_pad=False reproduces it at odd sizes.
@pytest.mark.parametrize('size', [(224, 224), (223, 317), (61, 93)])
def test_pvtv2_equals_mmdet_given_same_weights(size):
    peer = randomize_(mmdet_peer(2), seed=1)
    peer.eval()
    ours = _set_ln_eps(PVTv2('b0', drop_path_rate=0.0, sr_pad=False), 1e-6)
    ours.load_state_dict(convert_pvtv2_checkpoint(peer.state_dict()), strict=True)
    ours.eval()
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_features_close(ours(x), peer(x))


SMALL_LI = dict(embed_dims=(16, 32, 48, 64), depths=(1, 2, 1, 1), num_heads=(1, 2, 3, 4),
                mlp_ratios=(4, 4, 2, 2), sr_ratios=(8, 4, 2, 1), linear=True)


@pytest.mark.parametrize('arch,size', [('b0', (224, 224)), ('b0', (223, 317)), ('li', (224, 224)),
                                       ('li', (61, 93))])
def test_pvtv2_equals_timm_given_same_weights(arch, size):
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    if arch == 'li':  # linear SRA (b2_li's attention and MLP) on a narrow arch, to keep the test quick
        from timm.models.pvt_v2 import PyramidVisionTransformerV2
        peer = PyramidVisionTransformerV2(**{k: v for k, v in SMALL_LI.items() if k != 'sr_ratios'})
        arch = SMALL_LI
    else:
        peer = timm.create_model(f'pvt_v2_{arch}', pretrained=False)
    peer = randomize_(peer, seed=2).eval()
    ours = PVTv2(arch, drop_path_rate=0.0, sr_pad=False)
    result = ours.load_state_dict(convert_pvtv2_checkpoint(peer.state_dict()), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []  # only timm's head was dropped
    ours.eval()
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_features_close(ours(x), peer.forward_intermediates(x, intermediates_only=True))


def test_sr_pad_only_matters_off_multiples():
    """Padding the key map (default) and the official floor rule agree at sizes divisible by 32
    and differ (only) where a map does not divide by its reduction ratio."""
    a = randomize_(_small(PVTv2, drop_path_rate=0.0), seed=4).eval()
    b = _small(PVTv2, drop_path_rate=0.0, sr_pad=False).eval()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        x = torch.randn(1, 3, 128, 96)
        assert_features_close(b(x), a(x), rel=0, floor=0)
        x = torch.randn(1, 3, 100, 76)  # stage 1: 25x19, not a multiple of 8
        assert not torch.allclose(a(x)[0], b(x)[0], atol=1e-3)


@pytest.mark.parametrize('cls,arch', [(PVT, 'tiny'), (PVTv2, 'b0'), (PVTv2, SMALL_LI)])
@pytest.mark.parametrize('size', [(61, 93), (223, 317), (5, 3)])
def test_any_input_size(cls, arch, size):
    m = cls(arch).eval()
    with torch.no_grad():
        outs = m(torch.randn(1, 3, *size))
    h, w = size
    for i, o in enumerate(outs):
        stride = 4 * 2 ** i
        assert o.shape[1] == m.num_features[i]
        assert o.shape[2:] == (-(-h // stride), -(-w // stride))  # ceil: nothing is cropped
        assert torch.isfinite(o).all()


@pytest.mark.parametrize('cls,arch', [(PVT, 'tiny'), (PVTv2, 'b0')])
def test_out_indices_subset(cls, arch):
    full = randomize_(cls(arch, drop_path_rate=0.0), seed=5).eval()
    part = cls(arch, drop_path_rate=0.0, out_indices=(1, 3)).eval()
    part.load_state_dict(full.state_dict())
    assert part.out_channels == [full.num_features[1], full.num_features[3]]
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        a, b = full(x), part(x)
    assert len(b) == 2
    torch.testing.assert_close(b[0], a[1])
    torch.testing.assert_close(b[1], a[3])


def _small(cls, **kw):
    arch = dict(embed_dims=(8, 16, 24, 32), depths=(2, 1, 1, 2), num_heads=(1, 2, 3, 4),
                mlp_ratios=(2, 2, 2, 2), sr_ratios=(8, 4, 2, 1))
    if cls is PVT:
        return PVT(arch, pretrain_img_size=64, **kw)
    return PVTv2(dict(arch, linear=kw.pop('linear', False)), **kw)


@pytest.mark.parametrize('cls,kw', [(PVT, {}), (PVT, {'final_norm': True}), (PVTv2, {}),
                                    (PVTv2, {'linear': True})])
def test_gradients_reach_every_parameter_with_cp(cls, kw):
    m = _small(cls, with_cp=True, drop_path_rate=0.0, **kw)
    m.init_weights()
    m.train()
    assert params_without_gradient(m, torch.randn(2, 3, 50, 70)) == []


def test_frozen_stages():
    m = PVT('tiny', frozen_stages=2)
    assert m.train() is m
    for mod in (m.patch_embed1, m.block1, m.patch_embed2, m.block2):
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    assert not m.pos_embed1.requires_grad and not m.pos_embed2.requires_grad
    assert m.pos_embed3.requires_grad
    assert m.block3.training and all(p.requires_grad for p in m.block3.parameters())

    v2 = PVTv2('b0', frozen_stages=1)
    v2.train()
    for mod in (v2.patch_embed1, v2.block1, v2.norm1):
        assert not mod.training and all(not p.requires_grad for p in mod.parameters())
    assert v2.patch_embed2.training and all(p.requires_grad for p in v2.patch_embed2.parameters())
    zero = PVTv2('b0', frozen_stages=0)
    assert all(not p.requires_grad for p in zero.patch_embed1.parameters())
    assert all(p.requires_grad for p in zero.block1.parameters())


def _official_v1_classifier_state(src: PVT):
    """The official classification release's layout for ``src`` (``final_norm=True``): class token,
    class position in ``pos_embed4``, final ``norm``, ``head``."""
    sd = {}
    for k, v in src.state_dict().items():
        if k == 'pos_embed4':
            v = torch.cat([torch.randn(1, 1, v.shape[2]), v], dim=1)
        sd[k.replace('norm4.', 'norm.')] = v
    c = src.num_features[-1]
    sd.update({'cls_token': torch.randn(1, 1, c), 'head.weight': torch.randn(1000, c),
               'head.bias': torch.randn(1000)})
    return sd


def test_pvt_official_classification_checkpoint_loads(tmp_path):
    src = randomize_(PVT('tiny', final_norm=True), seed=3)
    path = tmp_path / 'pvt_tiny.pth'
    torch.save({'model': _official_v1_classifier_state(src)}, path)
    for final_norm in (True, False):  # the dense model (no final norm) takes all but the classifier parts
        dst = PVT('tiny', final_norm=final_norm, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
        dst.init_weights()
        got, ref = dst.state_dict(), src.state_dict()
        assert set(got) == set(ref) - ({'norm4.weight', 'norm4.bias'} if not final_norm else set())
        for k, v in got.items():
            torch.testing.assert_close(v, ref[k], msg=k)


def test_pvt_pretrain_size_position_embeddings_resized(tmp_path):
    src = randomize_(PVT('tiny'), seed=8)
    path = tmp_path / 'pvt_tiny_224.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in src.state_dict().items()}}, path)
    dst = PVT('tiny', pretrain_img_size=320, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    assert dst.pos_embed1.shape == (1, 80 * 80, 64) and dst.pos_embed4.shape == (1, 10 * 10, 512)
    # at the new pretraining size, the stored (resized) embedding is what the old one gives there
    torch.testing.assert_close(dst.pos_embed2, src._pos_embed(1, (40, 40)))


@pytest.mark.parametrize('layout', ['official', 'timm', 'mmdet'])
def test_pvtv2_checkpoint_layouts_load(tmp_path, layout):
    timm = pytest.importorskip('timm')
    if layout == 'mmdet':
        peer = mmdet_peer(2)
    else:
        peer = timm.create_model('pvt_v2_b0', pretrained=False)
    randomize_(peer, seed=9)
    sd = peer.state_dict()
    if layout == 'official':  # timm ships the converter from the official layout; invert its renames
        official = {}
        for k, v in sd.items():
            k = k.replace('patch_embed.', 'patch_embed1.').replace('.mlp.dwconv.', '.mlp.dwconv.dwconv.')
            for i in range(4):
                k = k.replace(f'stages.{i}.downsample.', f'patch_embed{i + 1}.')
                k = k.replace(f'stages.{i}.blocks.', f'block{i + 1}.')
                k = k.replace(f'stages.{i}.norm.', f'norm{i + 1}.')
            official[k] = v
        assert 'block1.0.mlp.dwconv.dwconv.weight' in official and 'norm4.weight' in official
        sd = official
    path = tmp_path / f'{layout}.pth'
    torch.save({'model': sd}, path)
    ours = PVTv2('b0', drop_path_rate=0.0, sr_pad=False,
                 init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    if layout == 'mmdet':
        _set_ln_eps(ours, 1e-6)
    ours.init_weights()
    peer.eval()
    ours.eval()
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        ref = peer(x) if layout == 'mmdet' else peer.forward_intermediates(x, intermediates_only=True)
        assert_features_close(ours(x), ref)


def test_bad_arch_names_valid_ones():
    with pytest.raises(ValueError, match=r"unknown arch 'b9'.*'b0'.*'b2_li'"):
        PVTv2('b9')
    with pytest.raises(ValueError, match=r"unknown arch 'huge'.*'large'.*'tiny'"):
        PVT('huge')
    with pytest.raises(ValueError, match='missing'):
        PVT(dict(embed_dims=(64, 128, 320, 512)))
    with pytest.raises(ValueError, match='one entry per stage'):
        PVTv2(dict(embed_dims=(8, 16), depths=(1, 1, 1), num_heads=(1, 1), mlp_ratios=(1, 1),
                   sr_ratios=(1, 1)))
    with pytest.raises(ValueError, match='out_indices'):
        PVTv2('b0', out_indices=(4,))


@pytest.mark.slow
@pytest.mark.parametrize('config', ['pvt/mask_rcnn_pvt_t_toy.py', 'pvtv2/mask_rcnn_pvtv2_b0_toy.py'])
def test_toy_mask_rcnn_learns(tmp_path, config):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs', config), str(tmp_path), iters=10,
                                       warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
