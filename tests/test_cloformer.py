"""CloFormer fidelity: parameter counts of the official models, equal stage features to the official
code (no peer library implements CloFormer), the official checkpoint layout, the pooled global
branch at sizes the official code cannot take, and a toy detection run.

``tests/data/cloformer_official_small.pt`` was written by ``tools/fixtures/make_cloformer_fixture.py``
from qhfan/CloFormer at commit 9181f692306bc4384d98b493a67a1b2dff9a738f: its ``classification/models``
package (``CloFormer.py``, ``layers.py``, ``blocks.py``, ``patch_embedding.py``) imported unchanged
except for one stand-in, ``efficientnet_pytorch.model.MemoryEfficientSwish`` -> ``torch.nn.SiLU``
(the same function); its SyncBatchNorms run as BatchNorm in eval mode. Arch (``arch`` entry):
dims 16-16-24-32, depths 2-1-2-1, heads 2-2-3-4 split 1+1 / 1+1 / 2+1 / 1+3 (local + global),
AttnConv kernels 3/5/7/9, pooling windows 8-4-2-1, ConvFFN kernel 5, MLP ratio 2, 10 classes.
Weights: ``vitdense.testing.randomize_`` (seed 0, BatchNorm statistics included), then the weights
of every ``global_q`` / ``global_kv`` and AttnConv gate x8 (a global attention far from uniform, a
tanh gate far from linear), rounded to fp16 values and stored in half (``state_dict``: the official
layout, classifier included; both sides run on its fp32 cast); eval mode. Inputs ``x_64`` (1x3x64x64)
and ``x_32x64`` (1x3x32x64), uint8, generator seed 1, normalised as ``(x / 255 - 0.45) / 0.25``;
the official code needs sides divisible by 32. ``x_47x33`` (same generator, next draw): the same
weights in the official model built with pooling windows 1-1-1-1 (pooling has no parameters; with
window 1 the official global branch takes any size), which checks every stride-2 conv at odd sizes.
``feats_*``: the four stage ends (for layers 0-2 the map after the attention residual of the last,
downsampling block, read at its ``norm2`` input; layer 3's output); ``normed_*``: the official final
``norm`` on layer 3's output. The official code itself is not part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.cloformer import CloAttention, CloFormer, convert_cloformer_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'cloformer_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('64', '32x64', '47x33')  # 47x33: odd sides, official run with pooling windows 1-1-1-1

# Parameters of the ImageNet classifiers (backbone + final GroupNorm + 1000-way linear head), counted
# by building cloformer_xxs / cloformer_xs / cloformer_s of the official
# classification/models/model_factory.py at commit 9181f69 locally. The paper's ImageNet table (as
# Papers with Code lists it) gives 4.2M / 7.2M / 12.3M.
OFFICIAL_PARAMS = {'xxs': 4_166_728, 'xs': 7_172_216, 's': 12_345_576}
PAPER_MILLIONS = {'xxs': 4.2, 'xs': 7.2, 's': 12.3}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _arch(official, size='64'):
    a = official['arch']
    arch = dict(dims=a['embed_dims'], depths=a['depths'], num_heads=a['num_heads'],
                group_splits=a['group_splits'], kernel_sizes=a['kernel_sizes'], window_sizes=a['window_sizes'],
                mlp_kernel_sizes=a['mlp_kernel_sizes'], mlp_ratios=a['mlp_ratios'])
    if size == '47x33':
        arch['window_sizes'] = [1, 1, 1, 1]
    return arch


def _small(official, size='64', **kw):
    return CloFormer(_arch(official, size), drop_path_rate=0.0, **kw).eval()


def _classifier_params(arch):
    m = CloFormer(arch, out_indices=(3, ))  # norm3 is the classifier's final norm
    return sum(p.numel() for p in m.parameters()) + m.num_features[-1] * 1000 + 1000


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    n = _classifier_params(arch)
    assert n == OFFICIAL_PARAMS[arch]
    assert round(n / 1e6, 1) == PAPER_MILLIONS[arch]


# The official ablation models cloformer_global / cloformer_no_global (same commit), as dict archs.
ABLATIONS = {
    'global': (dict(group_splits=((4, ), (4, ), (8, ), (16, )), kernel_sizes=((), (), (), ())), 3_998_024),
    'no_global': (dict(group_splits=((4, 0), (4, 0), (8, 0), (16, 0)), kernel_sizes=((3, ), (5, ), (7, ), (9, ))),
                  4_733_256),
}


@pytest.mark.parametrize('name', sorted(ABLATIONS))
def test_ablation_models_param_counts_equal_official(name):
    extra, expected = ABLATIONS[name]
    arch = dict(dims=(32, 64, 128, 256), depths=(2, 2, 6, 2), num_heads=(4, 4, 8, 16), **extra)
    assert _classifier_params(arch) == expected
    with torch.no_grad():
        (out, ) = CloFormer(arch, out_indices=(3, )).eval()(torch.randn(1, 3, 45, 37))
    assert out.shape == (1, 256, 2, 2)


def test_aliases_are_the_same_archs():
    assert CloFormer.arch_zoo['xx_small'] is CloFormer.arch_zoo['xxs']
    assert CloFormer.arch_zoo['small'] is CloFormer.arch_zoo['s']


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs_raw_and_normed(official, size):
    sd = convert_cloformer_checkpoint(official['state_dict'])
    raw = _small(official, size, out_norm=False)
    result = raw.load_state_dict(sd, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ['norm3.weight', 'norm3.bias']
    last = _small(official, size, out_indices=(3, ))
    last.load_state_dict(sd, strict=True)
    x = _img(official[f'x_{size}'])
    with torch.no_grad():
        got, (normed, ) = raw(x), last(x)
    H, W = x.shape[-2:]
    for i, (a, b) in enumerate(zip(got, official[f'feats_{size}'])):
        s = 4 * 2 ** i
        assert a.shape == b.shape == (1, raw.num_features[i], math.ceil(H / s), math.ceil(W / s))
        assert_features_close(a, b)
    assert_features_close(normed, official[f'normed_{size}'])


def test_fixture_is_sensitive_to_the_pooled_global_branch(official):
    """The fixture's weights make the global branch's details visible: without pooling (window 1
    everywhere), or without the global heads' output, the equality above breaks."""
    sd = convert_cloformer_checkpoint(official['state_dict'])
    x, ref = _img(official['x_64']), official['feats_64']
    unpooled = CloFormer(_arch(official, '47x33'), out_norm=False).eval()
    unpooled.load_state_dict(sd, strict=False)
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(unpooled(x), ref)
    model = _small(official, out_norm=False)
    model.load_state_dict(sd, strict=False)
    for p in model.stages[0].blocks[0].attn.global_kv.parameters():
        p.data.zero_()
    with torch.no_grad(), pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(model(x)[:1], ref[:1])


def test_partial_pooling_windows_average_their_valid_cells():
    """Where the official code needs maps divisible by the window, ours pools with ceil_mode: a
    partial window at the bottom/right averages the cells it holds (so padding the map with
    zeros would give a different result)."""
    attn = randomize_(CloAttention(16, 2, (1, 1), (3, ), window_size=4), seed=1).eval()
    x = torch.randn(1, 16, 9, 6)
    seen = {}
    attn.global_kv.register_forward_pre_hook(lambda mod, inp: seen.setdefault('pooled', inp[0]))
    with torch.no_grad():
        y = attn(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    pooled = seen['pooled']
    assert pooled.shape == (1, 16, 3, 2)
    assert torch.allclose(pooled[..., 2, 1], x[..., 8:, 4:].mean(dim=(-2, -1)), atol=1e-6)
    assert torch.allclose(pooled[..., 0, 0], x[..., :4, :4].mean(dim=(-2, -1)), atol=1e-6)


def test_official_release_layout_loads_through_init_cfg(official, tmp_path):
    """The official training script saves {'model': state_dict, 'optimizer': ..., ...}; the final
    ``norm`` becomes norm3, the ``head`` is dropped."""
    path = tmp_path / 'cloformer_small.pth'
    torch.save({'model': official['state_dict'], 'epoch': 299}, path)
    ours = CloFormer(_arch(official), init_cfg=dict(type='Pretrained', checkpoint=str(path)), out_indices=(3, ))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        (out, ) = ours(_img(official['x_32x64']))
    assert_features_close(out, official['normed_32x64'])


def test_converter_maps_official_names_and_keeps_our_format(official):
    src = official['state_dict']
    conv = convert_cloformer_checkpoint(src)
    assert not any(k.startswith('head.') for k in conv)
    # layer 0's last block (index 1) downsamples: its FFN half is stage 1's downsample
    assert torch.equal(conv['stages.1.downsample.shortcut.0.weight'], src['layers.0.blocks.1.downsample.0.weight'])
    assert torch.equal(conv['stages.1.downsample.norm.bias'], src['layers.0.blocks.1.norm2.bias'])
    assert torch.equal(conv['stages.1.downsample.mlp.dwconv.weight'], src['layers.0.blocks.1.mlp.dwconv.weight'])
    assert torch.equal(conv['stages.0.blocks.1.attn.local_branches.0.gate.2.weight'],
                       src['layers.0.blocks.1.attn.act_blocks.0.act_block.2.weight'])
    assert torch.equal(conv['stem.conv2.bn.running_var'], src['patch_embed.conv2.conv.1.running_var'])
    assert torch.equal(conv['stem.proj.weight'], src['patch_embed.conv5.weight'])
    assert torch.equal(conv['norm3.weight'], src['norm.weight'])
    ours = randomize_(CloFormer(_arch(official)), seed=3).state_dict()
    again = convert_cloformer_checkpoint(ours)
    assert list(again) == list(ours) and all(again[k] is ours[k] for k in ours)


def test_structure_follows_the_official_variants():
    m = CloFormer('xs')
    assert [len(s.blocks) for s in m.stages] == [2, 2, 6, 2]
    assert [s.downsample is None for s in m.stages] == [True, False, False, False]
    # the last block of stages 0-2 keeps only its attention half
    assert [s.blocks[-1].with_ffn for s in m.stages] == [False, False, False, True]
    attn = m.stages[2].blocks[0].attn
    assert attn.head_dim == 16 and attn.global_heads == 5 and attn.window_size == 2
    assert attn.local_branches[0].dwconv.kernel_size == (7, 7) and attn.local_branches[0].qkv.out_channels == 240
    assert m.stages[3].blocks[0].attn.window_size == 1
    assert m.stages[2].downsample.shortcut[0].kernel_size == (5, 5) and m.stages[2].downsample.mlp.fc2.out_channels == 160
    sync = CloFormer('xxs', norm_cfg=dict(type='SyncBN', requires_grad=True))
    assert isinstance(sync.stem.conv1.bn, nn.SyncBatchNorm) and isinstance(sync.stages[1].downsample.shortcut[1],
                                                                            nn.SyncBatchNorm)
    frozen_bn = CloFormer('xxs', norm_eval=True).train()
    assert frozen_bn.training and not frozen_bn.stem.conv4.bn.training
    assert not frozen_bn.stages[3].downsample.shortcut[1].training and frozen_bn.stages[3].blocks[0].norm1.training
    with pytest.raises(ValueError, match='group_split'):
        CloFormer(dict(CloFormer.arch_zoo['xxs'], group_splits=((3, 1), (2, 2), (4, 4), (4, 11))))


@pytest.mark.slow
def test_toy_mask_rcnn_cloformer_xxs_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/cloformer/mask_rcnn_cloformer_xxs_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
