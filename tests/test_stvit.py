"""STViT-R fidelity: parameter counts of the official detection backbones, equal stage features to
the official code (no peer library implements STViT-R), the official checkpoint layouts, the
official padding-mask rule and a toy detection run.

``tests/data/stvit_official_small.pt`` was written by ``tools/fixtures/make_stvit_fixture.py`` from
changsn/STViT-R-Object-Detection at commit 8b8eb1e113701cf52cdd88de71ed3332c0b4eea8: its
``mmdet/models/backbones/layers.py`` and ``swin_transformer.py`` imported unchanged (stand-ins for
``..builder.BACKBONES``, ``mmcv_custom.load_checkpoint``, ``mmdet.utils.get_root_logger``), class
``SwinTransformer`` with a small custom arch (embed_dim 8, depths 2-2-6-1, heads 1-1-2-2, MLP ratio 2,
window 7, semantic window 3, key windows 14/21/27, pad_mask True, drop_path_rate 0), seeded random
weights (``vitdense.testing.randomize_``, seed 0; BatchNorm statistics and layer scales included)
rounded to fp16 values, eval mode. Entries: ``arch``; ``state_dict`` (the official one, fp16, without
the derived ``relative_position_index`` buffers; both sides run on its fp32 cast); ``x_112``
(1x3x112x112, no padding anywhere) and ``x_58x90`` (1x3x58x90: the stride-16 map 4x6 is padded on
both axes) uint8 images (seed 1), normalised as ``(x / 255 - 0.45) / 0.25``; ``feats_112`` /
``feats_58x90``, the four outputs (``norm{i}`` applied). The official code itself is not part of
this repository.
"""
import math
import os

import numpy as np
import pytest
import torch

from vitdense.backbones.stvit import STViTR, convert_stvit_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

DATA = os.path.join(os.path.dirname(__file__), 'data', 'stvit_official_small.pt')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ('112', '58x90')

# Parameters of the official detection backbones (output norms norm0..3, no head) as released in
# configs/swin/cascade_mask_rcnn_swin_{small,base}_..._3x_coco.py, counted by building the official
# mmdet/models/backbones/swin_transformer.py at commit 8b8eb1e locally
# (tools/fixtures/make_stvit_fixture.py --params).
OFFICIAL_PARAMS = {'small': 48_857_862, 'base': 86_789_128}
# The official ImageNet classifiers (changsn/STViT-R at commit b4a27a0, models/swin_transformer.py
# built with its config defaults, USE_GLOBAL false as in the released logs): final norm + 1000-way
# head; equal to "number of params" in the official log/small.txt and log/base.txt. Their third
# stage has other attentions but the same parameters as ours.
OFFICIAL_CLS_PARAMS = {'small': 49_625_518, 'base': 87_812_336}


def _img(u8):
    return (u8.float() / 255 - 0.45) / 0.25


@pytest.fixture(scope='module')
def official():
    d = torch.load(DATA, weights_only=True)
    d['state_dict'] = {k: v.float() if v.is_floating_point() else v for k, v in d['state_dict'].items()}
    return d


def _small(official, **kw):
    a = official['arch']
    arch = dict(embed_dims=a['embed_dim'], depths=tuple(a['depths']), num_heads=tuple(a['num_heads']),
                mlp_ratio=a['mlp_ratio'])
    return STViTR(arch, window_size=a['window_size'], sample_size=a['window_sample_size'],
                  kernel_sizes=(a['k_window_size_1'], a['k_window_size_2'], a['restore_k_window_size']),
                  drop_path_rate=0.0, **kw)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = STViTR(arch)
    assert sum(p.numel() for p in m.parameters()) == OFFICIAL_PARAMS[arch]


@pytest.mark.parametrize('arch', sorted(OFFICIAL_CLS_PARAMS))
def test_param_count_with_head_equals_official_classifier(arch):
    m = STViTR(arch, out_indices=(3, ))
    n = sum(p.numel() for p in m.parameters()) + (m.num_features[-1] + 1) * 1000
    assert n == OFFICIAL_CLS_PARAMS[arch]


@pytest.mark.parametrize('size', SIZES)
def test_equals_official_outputs(official, size):
    ours = _small(official)
    ours.load_state_dict(convert_stvit_checkpoint(official['state_dict']), strict=True)
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official[f'x_{size}']))
    ref = official[f'feats_{size}']
    assert len(outs) == len(ref) == 4
    assert_features_close(outs, ref)


def test_detection_release_layout_loads_through_init_cfg(official, tmp_path):
    """The official detection files hold {'state_dict': ...} with ``backbone.`` prefixes."""
    path = tmp_path / 'stvit_small_arch.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in official['state_dict'].items()}}, path)
    ours = _small(official, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    ours.eval()
    with torch.no_grad():
        outs = ours(_img(official['x_58x90']))
    assert_features_close(outs, official['feats_58x90'])


def test_converter_renames_the_stem_and_keeps_our_format(official):
    conv = convert_stvit_checkpoint(official['state_dict'])
    assert 'patch_embed.proj.0.conv.weight' in conv and not any('.c.' in k for k in conv)
    ours = randomize_(_small(official), seed=3).state_dict()
    again = convert_stvit_checkpoint(ours)
    assert list(again) == list(ours)
    assert all(again[k] is ours[k] for k in ours)


def test_classification_layout_final_norm_and_head(official):
    """Classification checkpoints: final ``norm`` closes the last stage, ``head`` is dropped."""
    sd = {k: v for k, v in official['state_dict'].items() if not k.startswith('norm')}
    sd['norm.weight'] = official['state_dict']['norm3.weight']
    sd['norm.bias'] = official['state_dict']['norm3.bias']
    sd['head.weight'] = torch.zeros(10, 64)
    conv = convert_stvit_checkpoint(sd)
    assert 'norm3.weight' in conv and 'head.weight' not in conv


def test_semantic_stage_block_pattern():
    m = STViTR('small', out_indices=(2, ))
    kinds = [type(b).__name__ for b in m.layers[2].blocks]
    group = ['SwinBlock', 'SemanticAttentionBlock', 'SemanticAttentionBlock', 'SemanticBlock', 'SemanticBlock',
             'RestoreBlock']
    assert kinds == group * 3
    b = m.layers[2].blocks
    assert (b[1].kernel_size, b[2].kernel_size, b[5].kernel_size) == (14, 21, 27)
    assert b[3].local and not b[4].local
    assert all(blk.shift_size == 0 for blk in b[0::6])
    with pytest.raises(ValueError, match='groups of 6'):
        STViTR(dict(embed_dims=8, depths=(1, 1, 4, 1), num_heads=(1, 1, 1, 1)))


def test_bottom_right_pixels_are_not_dropped(official):
    m = randomize_(_small(official, out_indices=(0, )), seed=5).eval()
    x = torch.randn(1, 3, 33, 33)
    y = x.clone()
    y[..., 32, :] += 1.0
    with torch.no_grad():
        a, b = m(x)[0], m(y)[0]
    assert a.shape[-2:] == (9, 9)
    assert not torch.allclose(a[..., -1, :], b[..., -1, :])


@pytest.mark.slow
def test_toy_mask_rcnn_stvit_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/stvit/mask_rcnn_stvit_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
