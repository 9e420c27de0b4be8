"""MobileViT (v1) fidelity: parameter counts of the official models, equal stage features to the
official code (fixture), to timm's ``mobilevit_*`` and to mmpretrain's ``MobileViT`` given the same
weights (directly and from each library's checkpoint file through ``init_cfg``) where no padding is
needed, the padding rule at other sizes, and a toy detection run.

``tests/data/mobilevit_official_small.pt`` comes from apple/ml-cvnets at commit
77717569ab4a852614dae01f010b32b820cb33bb: ``cvnets/models/classification/mobilevit.py`` and the
modules it uses, imported unchanged (empty stand-ins for the ``requests``, ``av``, ``torchaudio``,
``psutil`` imports of the package's data helpers), built from the options of
``config/classification/imagenet/mobilevit.yaml`` with ``get_configuration`` replaced by a small
arch (stem 16, ``layer_1`` 16, ``layer_2`` two blocks of 16, ``layer_3`` .. ``layer_5`` widths
16-24-24 with transformer widths 12-24-24, MLP 2x, 1-2-1 layers, 4 heads, 2x2 patches, expansion 2;
``SMALL`` below is ours), ``n_classes=10``, ``vitdense.testing.randomize_`` (seed 0, std 0.1,
BatchNorm statistics included), rounded to fp16 values. uint8 inputs (seed 1) at 64x64 and 80x48,
normalised as ``x / 255``. It holds the state dict (official names, no ``num_batches_tracked``) and,
per input, ``out_l2`` .. ``out_l5`` and ``out_l5_exp`` of ``extract_end_points_all`` (entries
``out_{H}x{W}_{0..4}``); ``tools/fixtures/make_mobilevit_fixture.py`` regenerates it.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.mobilevit import MobileViT, MobileViTBlock, convert_mobilevit_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, 'tests', 'data', 'mobilevit_official_small.pt')

# Parameters of the ImageNet classifiers (final 1x1 expansion and linear head included), counted by
# building the official cvnets MobileViT (apple/ml-cvnets, commit 7771756, options of
# config/classification/imagenet/mobilevit.yaml, mode xx_small / x_small / small); timm's
# mobilevit_xxs/xs/s and mmpretrain's MobileViT + LinearClsHead have the same counts. Paper,
# Table 1 / Fig. 1: 1.3M, 2.3M, 5.6M.
OFFICIAL_PARAMS = {'xxs': 1_272_024, 'xs': 2_317_848, 's': 5_578_632}
SMALL = dict(widths=(16, 16, 24, 24), transformer_dims=(12, 24, 24), depths=(1, 2, 1), expand_ratio=2,
             stem_block_channels=16, stage0_blocks=2)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_counts_equal_official(arch):
    m = MobileViT(arch, final_conv=True)
    assert sum(p.numel() for p in m.parameters()) + m.num_features[-1] * 1000 + 1000 == OFFICIAL_PARAMS[arch]
    assert MobileViT(arch).out_channels == list(MobileViT.arch_zoo[arch]['widths'])


@pytest.fixture(scope='module')
def official():
    return torch.load(FIXTURE, weights_only=True)


def _load_official(official, final_conv):
    ours = MobileViT(SMALL, final_conv=final_conv).eval()
    conv = convert_mobilevit_checkpoint({k: v.float() for k, v in official['state_dict'].items()})
    expected = {k for k in ours.state_dict() if not k.endswith('num_batches_tracked')}
    if not final_conv:
        conv = {k: v for k, v in conv.items() if not k.startswith('final_conv.')}
    assert set(conv) == expected
    ours.load_state_dict(conv, strict=False)
    return ours


def test_equals_official_code(official):
    """The official state dict through the converter gives the official ``out_l2`` .. ``out_l5``
    (and ``out_l5_exp`` with ``final_conv=True``) at 64x64, where no map needs padding. At 80x48
    the stride-4 and -8 maps (20x12, 10x6) still divide by the patch and equal the official ones;
    the stride-16 and -32 maps (5x3, 3x2) are where the official code resizes and ours pads: the
    shapes are the same, the values deliberately differ."""
    plain, exp = _load_official(official, False), _load_official(official, True)
    x = official['x_64x64'].float() / 255
    with torch.no_grad():
        got, got_exp = plain(x), exp(x)
    for i in range(4):
        assert_features_close(got[i], official[f'out_64x64_{i}'], msg=f'stage {i}')
    assert_features_close(got_exp[3], official['out_64x64_4'], msg='final_conv')
    x = official['x_80x48'].float() / 255
    with torch.no_grad():
        got = plain(x)
    for i in range(4):
        ref = official[f'out_80x48_{i}']
        assert got[i].shape == ref.shape
        if i < 2:
            assert_features_close(got[i], ref, msg=f'stage {i}')
        else:
            assert not torch.allclose(got[i], ref, rtol=1e-3, atol=1e-3)


def _timm_stage_outputs(peer, x):
    y, outs = peer.stem(x), []
    for stage in peer.stages:
        y = stage(y)
        outs.append(y)
    return outs[1:-1] + [outs[-1], peer.final_conv(outs[-1])]


def _unpadded(hw, i):
    """Whether stage ``i``'s output needs no padding anywhere: every MobileViT block up to it (stages
    1..i, strides 8..) sees even map sides."""
    return all(math.ceil(n / (4 * 2 ** j)) % 2 == 0 for j in range(1, i + 1) for n in hw)


TIMM_PEERS = [('mobilevit_xxs', 'xxs'), ('mobilevit_s', 's')]


@pytest.mark.parametrize('name,arch', TIMM_PEERS, ids=[p[0] for p in TIMM_PEERS])
def test_equals_timm_directly_and_through_init_cfg(name, arch, tmp_path):
    """timm's state_dict loads through the converter and from a file via init_cfg (its
    ``final_conv`` into ``final_conv=True``), giving timm's stage outputs at square and non-square
    sizes that need no padding (multiples of 64); at 96x160 (multiples of 32 only) the stages up to
    stride 16 still equal timm's and the stride-32 one is where ours pads and timm resizes; at
    97x61 the shapes are ceil(H / stride) and the stride-4 stage (before any MobileViT block)
    still equals timm's."""
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = randomize_(timm.create_model(name, pretrained=False), seed=1).eval()
    path = tmp_path / f'{name}.pth'
    torch.save(peer.state_dict(), path)
    ours = MobileViT(arch, final_conv=True, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    direct = MobileViT(arch).eval()
    sd = convert_mobilevit_checkpoint(peer.state_dict())
    assert set(sd) == set(ours.state_dict())
    direct.load_state_dict({k: v for k, v in sd.items() if not k.startswith('final_conv.')})
    assert [_unpadded((96, 160), i) for i in range(4)] == [True, True, True, False]
    for hw in [(64, 64), (128, 192), (96, 160), (97, 61)]:
        x = torch.randn(1, 3, *hw, generator=torch.Generator().manual_seed(hw[1]))
        with torch.no_grad():
            ref, got, got_plain = _timm_stage_outputs(peer, x), ours(x), direct(x)
        for i in range(4):
            s = 4 * 2 ** i
            assert got_plain[i].shape[-2:] == (math.ceil(hw[0] / s), math.ceil(hw[1] / s))
            if _unpadded(hw, i):
                assert_features_close(got_plain[i], ref[i], msg=f'{hw} stage {i}')
            elif hw == (96, 160):
                assert not torch.allclose(got_plain[i], ref[i], rtol=1e-3, atol=1e-3)
        if hw[0] % 64 == 0 and hw[1] % 64 == 0:
            assert_features_close(got[3], ref[4], msg=f'{hw} final_conv')


@pytest.mark.parametrize('arch,peer_arch', [('xxs', 'xx_small'), ('xs', 'x_small')])
def test_equals_mmpretrain_directly_and_through_init_cfg(arch, peer_arch, tmp_path):
    """mmpretrain's MobileViT, saved as an mmpretrain ImageClassifier checkpoint ('state_dict',
    'backbone.' keys, head), loads through init_cfg and gives mmpretrain's ``out_indices=(1, 2, 3,
    4)`` features (its last includes ``conv_1x1_exp``: ours with ``final_conv=True``)."""
    pytest.importorskip('mmpretrain')
    from mmpretrain.models.backbones import MobileViT as PeerMobileViT
    peer = randomize_(PeerMobileViT(peer_arch, out_indices=(1, 2, 3, 4)), seed=3)
    peer.eval()  # mmpretrain's train() returns None
    sd = {'backbone.' + k: v for k, v in peer.state_dict().items()}
    sd.update({'head.fc.weight': torch.randn(10, 4 * peer.layers[-1][1].conv_fusion.conv.out_channels),
               'head.fc.bias': torch.randn(10)})
    torch.save({'state_dict': sd, 'meta': {'mmpretrain_version': '1.2.0'}}, tmp_path / 'cls.pth')
    ours = MobileViT(arch, final_conv=True, init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'cls.pth')))
    ours.init_weights()
    ours.eval()
    direct = MobileViT(arch, final_conv=True).eval()
    direct.load_state_dict(convert_mobilevit_checkpoint(peer.state_dict()))
    x = torch.randn(1, 3, 64, 128, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref, got, got_direct = peer(x), ours(x), direct(x)
    for a, b, c in zip(got, got_direct, ref):
        assert_features_close(a, c)
        assert_features_close(b, c)


def test_padding_masks_padded_pixels_as_keys():
    """At a map size that does not divide by the patch, each pixel position of a patch attends over
    the real pixels at that position only: the block equals a reference that gathers the real
    pixels per position (no padding at all), runs the transformer on them and scatters back."""
    block = randomize_(MobileViTBlock(8, 16, 32, depth=2), seed=4).eval()
    x = torch.randn(2, 8, 5, 7, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        got = block(x)
        y = block.conv_1x1(block.conv_kxk(x))
        out = torch.empty_like(y)
        for i in range(2):
            for j in range(2):
                part = y[:, :, i::2, j::2]
                B, C, h, w = part.shape
                t = part.flatten(2).transpose(1, 2)
                for layer in block.transformer:
                    t = layer(t)
                out[:, :, i::2, j::2] = block.norm(t).transpose(1, 2).reshape(B, C, h, w)
        ref = block.conv_fusion(torch.cat((x, block.conv_proj(out)), dim=1))
    assert_features_close(got, ref)
    # a 1x1 map: three of the four patch positions have no real pixel; still finite
    with torch.no_grad():
        assert torch.isfinite(block(x[:, :, :1, :1])).all()


def test_converter_leaves_our_format_unchanged():
    sd = MobileViT(SMALL, final_conv=True).state_dict()
    conv = convert_mobilevit_checkpoint(sd)
    assert list(conv) == list(sd) and all(conv[k] is sd[k] for k in sd)


@pytest.mark.slow
def test_toy_mask_rcnn_mobilevit_xxs_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/mobilevit/mask_rcnn_mobilevit_xxs_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
