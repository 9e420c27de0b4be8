"""ShuffleNet v1 / v2 fidelity: parameter counts of the official models, equal maps to the official
code (fixture, ``channel_order='megvii'``) and to mmpretrain's ``ShuffleNetV1`` / ``ShuffleNetV2``
given the same weights (``channel_order='mmpretrain'``: directly and from an mmpretrain
ImageClassifier checkpoint through ``init_cfg``), the refusal of a checkpoint whose layout has the
other channel order, and a toy detection run.

``tests/data/shufflenet_official_small.pt`` comes from megvii-model/ShuffleNet-Series at commit
aa91feb71b01f28d0b8da3533d20a3edb11b1810, ``ShuffleNetV1/{blocks,network}.py`` and
``ShuffleNetV2/{blocks,network}.py`` run unchanged except for one channel table each (v1
``group=3, '0.5x'`` -> ``[-1, 12, 24, 48, 96]``, v2 ``'0.5x'`` -> ``[-1, 8, 16, 32, 64, 128]``),
``n_class=10``. Weights: ``vitdense.testing.randomize_`` (v1 seed 0, v2 seed 1, std 0.1, BatchNorm
statistics included), rounded to fp16 and stored as names, shapes and one flat fp16 tensor
(``num_batches_tracked`` left out). Inputs: uint8 images, seed 2 at 64x64 and seed 3 at 45x71,
normalised as ``(x / 255 - 0.45) / 0.25``. Outputs ``out_<size>_<i>``: the max-pool output and
the last unit of each stage (v2: after ``conv_last``), in eval mode.
``tools/fixtures/make_shufflenet_fixture.py`` regenerates it.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.shufflenet import (ShuffleNetV1, ShuffleNetV2, convert_shufflenet_v1_checkpoint,
                                           convert_shufflenet_v2_checkpoint)
from vitdense.testing import assert_features_close, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, 'tests', 'data', 'shufflenet_official_small.pt')

# Parameters of the ImageNet classifiers as released (bias-free 1000-way linear head included),
# counted by building megvii-model/ShuffleNet-Series (commit aa91feb) ShuffleNetV1/network.py
# ShuffleNetV1(model_size=..., group=...) and ShuffleNetV2/network.py ShuffleNetV2(model_size=...).
# Official READMEs: v1 g3 0.7M/1.9M/3.4M/5.4M, g8 1.0M/2.4M/4.3M/6.5M; v2 1.4M/2.3M/3.5M/7.4M.
OFFICIAL_PARAMS_V1 = {
    'g3_0.5x': 717_324, 'g3_1.0x': 1_864_728, 'g3_1.5x': 3_441_168, 'g3_2.0x': 5_449_776,
    'g8_0.5x': 1_010_448, 'g8_1.0x': 2_433_768, 'g8_1.5x': 4_268_952, 'g8_2.0x': 6_521_232,
}
OFFICIAL_PARAMS_V2 = {'0.5x': 1_365_792, '1.0x': 2_278_760, '1.5x': 3_506_720, '2.0x': 7_402_600}
SIZES = [(64, 64), (45, 71)]


def _count(m):
    return sum(p.numel() for p in m.parameters()) + m.num_features[-1] * 1000


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS_V1))
def test_v1_param_counts_equal_official(arch):
    assert _count(ShuffleNetV1(arch=arch)) == OFFICIAL_PARAMS_V1[arch]


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS_V2))
def test_v2_param_counts_equal_official(arch):
    assert _count(ShuffleNetV2(arch=arch)) == OFFICIAL_PARAMS_V2[arch]


@pytest.mark.parametrize('groups', [1, 2, 4])
def test_v1_paper_groups_equal_mmpretrain_counts(groups):
    """g1/g2/g4 are not in the official release: the paper's Table 1 widths, as mmpretrain builds them."""
    from mmpretrain.models.backbones import ShuffleNetV1 as MMShuffleNetV1
    ours = ShuffleNetV1(arch=f'g{groups}_1.0x', channel_order='mmpretrain')
    peer = MMShuffleNetV1(groups=groups, widen_factor=1.0, out_indices=(0, 1, 2))
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in peer.parameters())


@pytest.fixture(scope='module')
def official():
    return torch.load(FIXTURE, weights_only=True)


def _official_state(entry):
    sd, offset = {}, 0
    for name, shape in zip(entry['names'], entry['shapes']):
        n = math.prod(shape)
        sd[name] = entry['flat'][offset:offset + n].float().reshape(shape)
        offset += n
    return sd


def _img(x):
    return (x.float() / 255 - 0.45) / 0.25


@pytest.mark.parametrize('version', ['v1', 'v2'])
def test_equal_to_official_code(official, version):
    entry = official[version]
    cls, convert = ((ShuffleNetV1, convert_shufflenet_v1_checkpoint) if version == 'v1'
                    else (ShuffleNetV2, convert_shufflenet_v2_checkpoint))
    model = cls(arch=entry['arch']).eval()
    result = model.load_state_dict(convert(_official_state(entry)), strict=True)
    assert not result.missing_keys
    for size in ('64', '45x71'):
        with torch.no_grad():
            outs = model(_img(entry[f'x_{size}']))
        assert_features_close(outs, [entry[f'out_{size}_{i}'] for i in range(4)], msg=f'{version} {size}')


def test_official_checkpoint_through_init_cfg(official, tmp_path):
    """The official train.py saves {'state_dict': ...} of a DataParallel model ('module.' keys)."""
    entry = official['v2']
    path = str(tmp_path / 'official.pth.tar')
    torch.save({'state_dict': {'module.' + k: v for k, v in _official_state(entry).items()}}, path)
    model = ShuffleNetV2(arch=entry['arch'], init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    with torch.no_grad():
        outs = model.eval()(_img(entry['x_64']))
    assert_features_close(outs, [entry[f'out_64_{i}'] for i in range(4)])
    with pytest.raises(RuntimeError, match="channel_order='megvii'"):
        ShuffleNetV2(arch=entry['arch'], channel_order='mmpretrain',
                     init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()


def _peer(version, arch):
    from mmpretrain.models.backbones import ShuffleNetV1 as MMV1
    from mmpretrain.models.backbones import ShuffleNetV2 as MMV2
    if version == 'v1':
        groups, width = int(arch[1]), float(arch.split('_')[1][:-1])
        return (MMV1(groups=groups, widen_factor=width, out_indices=(0, 1, 2)),
                ShuffleNetV1(arch=arch, channel_order='mmpretrain'), (1, 2, 3))
    return (MMV2(widen_factor=float(arch[:-1]), out_indices=(0, 1, 2, 3)),
            ShuffleNetV2(arch=arch, channel_order='mmpretrain'), (1, 2, 3))


# v1 1.5x / 2.0x and g8 0.5x: mmpretrain's widen_factor rule makes other stems / widths than the
# official tables
@pytest.mark.parametrize('version,arch', [('v1', 'g3_0.5x'), ('v1', 'g3_1.0x'), ('v1', 'g8_1.0x'),
                                          ('v1', 'g2_1.0x'), ('v2', '0.5x'), ('v2', '1.0x')])
def test_equal_to_mmpretrain(version, arch):
    peer, ours, ours_idx = _peer(version, arch)
    randomize_(peer, seed=3, std=0.1)
    convert = convert_shufflenet_v1_checkpoint if version == 'v1' else convert_shufflenet_v2_checkpoint
    result = ours.load_state_dict(convert(peer.state_dict()), strict=True)
    assert not result.missing_keys
    peer.eval(), ours.eval()
    for h, w in SIZES:
        x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(h))
        with torch.no_grad():
            ref, got = list(peer(x)), ours(x)
        if version == 'v2':
            ref = [ref[0], ref[1], ref[3]]  # layers[2] (the last stage before conv_last) is not one of ours
        assert got[0].shape[-2:] == (math.ceil(h / 4), math.ceil(w / 4))
        assert_features_close([got[i] for i in ours_idx], ref, msg=f'{arch} {h}x{w}')


def test_mmpretrain_classifier_checkpoint_through_init_cfg(tmp_path):
    from mmpretrain.models.backbones import ShuffleNetV2 as MMV2
    peer = MMV2(widen_factor=0.5, out_indices=(3, ))
    randomize_(peer, seed=4, std=0.1)
    peer.eval()
    sd = {'backbone.' + k: v for k, v in peer.state_dict().items()}
    sd.update({'head.fc.weight': torch.zeros(1000, 1024), 'head.fc.bias': torch.zeros(1000),
               'data_preprocessor.mean': torch.zeros(3, 1, 1)})
    path = str(tmp_path / 'mmpretrain.pth')
    torch.save({'meta': {}, 'state_dict': sd}, path)
    ours = ShuffleNetV2(arch='0.5x', channel_order='mmpretrain', out_indices=(3, ),
                        init_cfg=dict(type='Pretrained', checkpoint=path))
    ours.init_weights()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert_features_close(ours.eval()(x), peer(x))
    with pytest.raises(RuntimeError, match="channel_order='mmpretrain'"):
        ShuffleNetV2(arch='0.5x', init_cfg=dict(type='Pretrained', checkpoint=path)).init_weights()


def test_channel_orders_differ():
    """Same weights, the two orders: different networks (why channel_order exists)."""
    a = ShuffleNetV1(arch=dict(groups=3, stem_channels=12, widths=(24, 48, 96)))
    randomize_(a, seed=0)
    a.eval()
    b = ShuffleNetV1(arch=dict(groups=3, stem_channels=12, widths=(24, 48, 96)), channel_order='mmpretrain')
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(a(x)[1], b.eval()(x)[1], atol=1e-3)


def test_v2_without_last_conv():
    m = ShuffleNetV2(arch='0.5x', with_last_conv=False)
    assert m.conv_last is None and m.feature_info[-1] == dict(num_chs=192, reduction=32, index=3)
    assert ShuffleNetV2(arch='0.5x').feature_info[-1] == dict(num_chs=1024, reduction=32, index=3)
    assert [f['reduction'] for f in m.feature_info] == [4, 8, 16, 32]


def test_bad_groups_and_order():
    with pytest.raises(ValueError, match='groups=8'):
        ShuffleNetV1(arch=dict(groups=8, stem_channels=12, widths=(120, 240, 480)))
    with pytest.raises(ValueError, match='channel_order'):
        ShuffleNetV2(channel_order='torchvision')


@pytest.mark.slow
def test_toy_mask_rcnn_shufflenet_v2_learns(tmp_path):
    config = os.path.join(ROOT, 'configs/shufflenet/mask_rcnn_shufflenet_v2_0.5x_toy.py')
    losses, metrics = toy_training_run(config, str(tmp_path), iters=10, warmup=2, train_images=4,
                                       val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
