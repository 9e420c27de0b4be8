"""iFormer (Inception Transformer) fidelity: parameter counts of the official models, equal stage
features to the official code (no peer library implements it: timm's ``iformer_*`` is another
network), the official checkpoint layout, position-embedding resizing, odd maps in the pooled
attention and a toy detection run.

``tests/data/iformer_official_small.pt`` was written by ``tools/fixtures/make_iformer_fixture.py``
from sail-sg/iFormer at commit 725d8e7f455b5e17be20788b9bcd6c6c505c4be0: its
``models/inception_transformer.py`` (the only model code released), imported unchanged but for a
stand-in ``timm.models.layers.helpers`` module holding timm's ``to_2tuple`` (timm >= 0.9 removed
it). Class ``InceptionTransformer`` with a small custom arch (``arch``: img_size 64, embed_dims
16-24-32-32, depths 1-1-2-1, num_heads 2-3-4-4, attention_heads 1, 2, 2-3, 3 per block, layer scale
on the last two stages as in the official models, 10 classes), seeded random weights
(``vitdense.testing.randomize_``, seed 0, BatchNorm statistics included) rounded to fp16 values,
eval mode. Entries: ``arch``; ``state_dict`` (the official one, fp16, ``head`` and ``norm``
included; both sides run on its fp32 cast); ``x_64`` (1x3x64x64: the position tables as they are)
and ``x_48`` (2x3x48x48: maps 12-6-3-2, every table interpolated) uint8 images from a generator
seeded 1, normalised as ``(x / 255 - 0.45) / 0.25``; ``feats_64`` / ``feats_48``, the four
``blocks{i}`` outputs (forward hooks, permuted to NCHW); ``norm_64`` / ``norm_48``, the final
``norm`` on the last stage's tokens, as an NCHW map. The official code runs square inputs with even
stage-0/1 maps only; non-square and odd sizes are our extension and are tested here on their own
terms. The official code itself is not part of this repository.
"""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vitdense.backbones.iformer import (InceptionTransformer, LowMixer, convert_iformer_checkpoint,
                                        resize_pos_embed_map)
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'iformer_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('64', '48')

# Parameters of the ImageNet classifiers (backbone + final norm + 1000-way head), counted by building
# iformer_{small,base,large}[_384] of the official models/inception_transformer.py at commit
# 725d8e7 locally; the official docstrings say 19.866M / 47.866M / 86.637M.
OFFICIAL_PARAMS = {('small', 224): 19_866_344, ('base', 224): 47_866_216, ('large', 224): 86_637_096,
                   ('small', 384): 20_899_944, ('base', 384): 48_936_296, ('large', 384): 87_743_656}
# The official README's table: 20M / 48M / 87M.
PUBLISHED_MILLIONS = {'small': 20, 'base': 48, 'large': 87}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


def _classifier_params(m):
    d = m.num_features[-1]
    return 2 * d + d * 1000 + 1000  # the official final LayerNorm + linear head


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _arch(official):
    a = official['arch']
    return dict(depths=tuple(a['depths']), embed_dims=tuple(a['embed_dims']), num_heads=tuple(a['num_heads']),
                attention_heads=tuple(a['attention_heads']))


def _small(official, **kw):
    kw.setdefault('pretrain_img_size', official['arch']['img_size'])
    return InceptionTransformer(_arch(official), drop_path_rate=0.0, **kw)


@pytest.mark.parametrize('arch,size', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch, size):
    m = InceptionTransformer(arch, pretrain_img_size=size, out_norm=False)
    assert sum(p.numel() for p in m.parameters()) + _classifier_params(m) == OFFICIAL_PARAMS[(arch, size)]


@pytest.mark.parametrize('arch', sorted(PUBLISHED_MILLIONS))
def test_param_count_rounds_to_published_millions(arch):
    m = InceptionTransformer(arch, out_norm=False)
    n = sum(p.numel() for p in m.parameters()) + _classifier_params(m)
    assert round(n / 1e6) == PUBLISHED_MILLIONS[arch]


def test_frequency_ramp_and_layer_scale_follow_the_official_small():
    """iformer_small: attention heads 1x3, 3x3, 7x4 + 9x5, 11x3 (high-frequency channels shrink
    block by block); 2x2 pooled attention in stages 0-1 only; layer scale in stages 2-3 only."""
    m = InceptionTransformer('s', out_indices=(3, ))
    highs = [b.attn.high_dim for i in range(1, 5) for b in getattr(m, f'blocks{i}')]
    assert highs == [64] * 3 + [96] * 3 + [96] * 4 + [32] * 5 + [32] * 3
    assert [getattr(m, f'blocks{i}')[0].attn.low_mixer.pool_size for i in range(1, 5)] == [2, 2, 1, 1]
    assert [getattr(m, f'blocks{i}')[0].use_layer_scale for i in range(1, 5)] == [False, False, True, True]
    assert tuple(m.pos_embed1.shape) == (1, 56, 56, 96) and tuple(m.pos_embed4.shape) == (1, 7, 7, 384)


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_stage_outputs(official, size):
    ours = _small(official, out_norm=False)
    result = ours.load_state_dict(convert_iformer_checkpoint(official['state_dict']), strict=False)
    assert not result.missing_keys and result.unexpected_keys == ['norm3.weight', 'norm3.bias']
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official[f'x_{size}']))
    ref = official[f'feats_{size}']
    assert len(outs) == len(ref) == 4
    assert_features_close(outs, ref)


@pytest.mark.parametrize('size', SIZES)
def test_last_output_norm_is_the_official_final_norm(official, size):
    ours = _small(official, out_indices=(3, )).eval()
    ours.load_state_dict(convert_iformer_checkpoint(official['state_dict']), strict=True)
    with torch.no_grad():
        out, = ours(_img(official[f'x_{size}']))
    assert_features_close(out, official[f'norm_{size}'])


def test_official_release_layout_loads_through_init_cfg(official, tmp_path):
    """The official files are bare state dicts with the classifier ``head`` and final ``norm``."""
    path = tmp_path / 'iformer_small_arch.pth'
    torch.save(official['state_dict'], path)
    ours = _small(official, out_indices=(0, 3), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        out0, out3 = ours(_img(official['x_48']))
    assert_features_close(out3, official['norm_48'])
    assert_features_close(out0, ours.norm0(official['feats_48'][0].permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


def test_a_release_of_another_resolution_is_resized_on_load(official, tmp_path):
    """A checkpoint whose position tables are for another resolution (the 384 px release in a 224 px
    model) loads with its tables resized bilinearly; here: the 64 px fixture into a 32 px model."""
    path = tmp_path / 'iformer_64.pth'
    torch.save(official['state_dict'], path)
    ours = _small(official, pretrain_img_size=32, out_norm=False,
                  init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    for i, side in zip(range(1, 5), (8, 4, 2, 1)):
        got = getattr(ours, f'pos_embed{i}')
        ref = official['state_dict'][f'pos_embed{i}']
        assert tuple(got.shape[1:3]) == (side, side)
        assert_features_close(got, resize_pos_embed_map(ref, (side, side)))


def test_converter_drops_the_classifier_and_keeps_our_format(official):
    conv = convert_iformer_checkpoint(official['state_dict'])
    assert not any(k.startswith(('head.', 'norm.')) for k in conv)
    assert torch.equal(conv['norm3.weight'], official['state_dict']['norm.weight'])
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_iformer_checkpoint(ours)
    assert list(again) == list(ours)
    assert all(again[k] is ours[k] for k in ours)


def test_position_embedding_resize_rule():
    """Unchanged at the table's own size; otherwise bilinear without corner alignment (the official
    rule). A non-square map of the table's area is resized too (the official area test skips it)."""
    pos = torch.randn(1, 4, 4, 3)
    assert resize_pos_embed_map(pos, (4, 4)) is pos
    got = resize_pos_embed_map(pos, (2, 8))
    ref = F.interpolate(pos.permute(0, 3, 1, 2), size=(2, 8), mode='bilinear', align_corners=False)
    assert torch.equal(got, ref.permute(0, 2, 3, 1))


def test_pooled_attention_on_odd_maps():
    """Odd maps: each 2x2 cell (a partial one at the bottom/right included) is averaged over the pixels
    it covers, attention runs on those cells and every pixel gets its cell's output back."""
    torch.manual_seed(0)
    mixer = randomize_(LowMixer(8, num_heads=2, pool_size=2), seed=1).eval()
    x = torch.randn(2, 8, 5, 7)
    with torch.no_grad():
        y = mixer(x)
    assert y.shape == x.shape
    # reference: explicit cell means, plain softmax attention, cell outputs copied to their pixels
    cells = torch.stack([torch.stack([x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].mean((-2, -1)) for j in range(4)], -1)
                         for i in range(3)], -2)  # (B, C, 3, 4)
    t = cells.flatten(2).transpose(1, 2)
    q, k, v = mixer.qkv(t).reshape(2, 12, 3, 2, 4).permute(2, 0, 3, 1, 4)
    o = torch.softmax(q @ k.transpose(-1, -2) * 4 ** -0.5, -1) @ v  # (B, heads, 12, 4)
    o = o.transpose(-1, -2).reshape(2, 8, 3, 4)
    ref = o.repeat_interleave(2, -2).repeat_interleave(2, -1)[..., :5, :7]
    assert_features_close(y, ref)


def test_non_square_and_odd_inputs_keep_every_pixel(official):
    """A 4k+1 image's last row reaches the first stage, and non-square inputs run (the official code
    needs square maps with even stage-0/1 sides)."""
    m = randomize_(_small(official, out_indices=(0, 1)), seed=5).eval()
    x = torch.randn(1, 3, 33, 50)
    y = x.clone()
    y[..., 32, :] += 1.0
    with torch.no_grad():
        a, b = m(x), m(y)
    assert a[0].shape[-2:] == (9, 13) and a[1].shape[-2:] == (5, 7)
    assert not torch.allclose(a[0][..., -1, :], b[0][..., -1, :])


def test_bad_frequency_splits_are_refused():
    """The high-frequency mixer halves its channels: an odd or empty share is an error, as is an
    attention_heads list that does not name every block."""
    arch = dict(depths=(1, 1, 1, 1), embed_dims=(16, 32, 64, 64), num_heads=(2, 4, 8, 8), attention_heads=(1, 2, 4, 6))
    with pytest.raises(ValueError, match='high-frequency'):
        InceptionTransformer(dict(arch, attention_heads=(2, 2, 4, 6)))  # 16 - 2 * 8 = 0 channels
    with pytest.raises(ValueError, match='high-frequency'):
        InceptionTransformer(dict(arch, embed_dims=(18, 32, 64, 64)))  # 18 - 9 = 9 channels
    with pytest.raises(ValueError, match='one entry per block'):
        InceptionTransformer(dict(arch, attention_heads=(1, 2, 4)))
    with pytest.raises(ValueError, match='pretrain_img_size'):
        InceptionTransformer(arch, pretrain_img_size=16)


@pytest.mark.slow
def test_toy_mask_rcnn_iformer_s_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/iformer/mask_rcnn_iformer_s_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics


def test_random_init_is_the_official_one():
    """init_cfg=None: truncated-normal (std 0.02) linear / conv weights and position embeddings, zero
    biases, unit LayerNorms and BatchNorms, layer scale at 1e-6 (official _init_vit_weights)."""
    m = InceptionTransformer(dict(depths=(1, 1, 1, 1), embed_dims=(16, 32, 64, 64), num_heads=(2, 4, 8, 8),
                                  attention_heads=(1, 2, 4, 6)))
    m.init_weights()
    w = m.blocks3[0].mlp.fc1.weight
    assert 0.015 < w.std().item() < 0.025
    assert 0.015 < m.pos_embed1.std().item() < 0.025
    assert m.blocks3[0].mlp.fc1.bias.abs().max() == 0 and m.blocks1[0].attn.proj.bias.abs().max() == 0
    assert m.norm0.weight.eq(1).all() and m.patch_embed.norm1.weight.eq(1).all()
    assert m.blocks4[0].layer_scale_1.eq(1e-6).all()
