"""GC ViT fidelity: parameter counts of the official models; equal features to the official
detection backbone (recorded output of its code, see ``test_equals_official_detection_backbone``)
and to timm's ``gcvit_*`` at its fixed 224 px input, given the same weights through our converter;
checkpoint layouts, any input size, freezing, checkpointing, gradients and a toy detection run."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.gcvit import GCViT, convert_gcvit_checkpoint
from vitdense.testing import assert_features_close, params_without_gradient, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGENET_WINDOWS = (7, 7, 14, 7)

# Parameters of the ImageNet classifiers (backbone + final norm + 1000-way head). Source: the official
# README (NVlabs/GCVit) lists 12M/20M/28M/34M/51M/68M/90M/201M for XXT/XT/T/T2/S/S2/B/L; the exact
# counts are those of the official models/gc_vit.py (gc_vit_xxtiny ... gc_vit_large, counted by running
# it at commit 8e1941f2), equal to timm's gcvit_xxtiny ... gcvit_base counts.
OFFICIAL_PARAMS = {'xxtiny': 11_995_428, 'xtiny': 19_981_294, 'tiny': 28_221_974, 'tiny2': 34_535_654,
                   'small': 51_092_173, 'small2': 68_615_197, 'base': 90_320_836, 'large': 202_075_570}
SMALL = dict(embed_dims=8, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), mlp_ratio=2)


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = GCViT(arch, window_size=IMAGENET_WINDOWS, out_indices=(3, ))  # norm3 has the final norm's shape
    head = nn.Linear(m.num_features[-1], 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == OFFICIAL_PARAMS[arch]


def test_equals_official_detection_backbone(tmp_path):
    """``tests/data/gcvit_official_small.pt`` was produced by running the official dense backbone,
    NVlabs/GCVit@8e1941f2099eeb99ee9e8472a5ddbd6b94a8958f ``detection/models/gc_vit.py`` (its mmcv /
    mmdet imports stubbed; loading as mmcv 1.x ``load_checkpoint(strict=False)``, which skips
    shape-mismatched tensors), locally with ``GCViT(dim=8, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4],
    mlp_ratio=2., window_size=(5,) * 4, window_size_pre=(3,) * 4, layer_scale=0.5,
    drop_path_rate=0., pretrained=<file>)``. The file holds that checkpoint (official key names,
    seeded random values: 3x3-window ImageNet-style bias tables and index buffers, a ``head``, and
    output norms ``norm0..3``), a 2x3x61x93 input and the four official output maps. So it checks
    the official dense path end to end: bias tables resized bicubically from window 3 to 5, maps
    padded to the window, global queries pooled and interpolated to the window, layer scale.
    Regenerate (seeds and value rules there): ``tools/fixtures/make_gcvit_fixture.py``."""
    data = torch.load(os.path.join(ROOT, 'tests/data/gcvit_official_small.pt'), weights_only=True)
    path = tmp_path / 'gcvit_small_arch.pth.tar'
    torch.save({'state_dict': data['state_dict']}, path)
    ours = GCViT(dict(SMALL, layer_scale=0.5), window_size=5, drop_path_rate=0.0,
                 init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    result = ours.load_pretrained(str(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert ours.levels[0].blocks[0].attn.relative_position_bias_table.shape == (81, 1)
    ours.eval()
    with torch.no_grad():
        outs = ours(data['input'])
    for i, o in enumerate(outs):
        ref = data['outputs'][str(i)]
        assert o.shape == ref.shape
        assert_features_close(o, ref)


def test_equals_timm_at_224_given_same_weights():
    """timm's gcvit_* is the ImageNet model with a fixed 224 px input (windows 7-7-14-7); its stage
    outputs carry no norm except the last stage's (the final norm), hence the two models here."""
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = randomize_(timm.create_model('gcvit_xxtiny', pretrained=False), seed=2).eval()
    sd = convert_gcvit_checkpoint(peer.state_dict())
    raw = GCViT('xxtiny', window_size=IMAGENET_WINDOWS, out_norm=False, out_indices=(0, 1, 2),
                drop_path_rate=0.0).eval()
    result = raw.load_state_dict(sd, strict=False)
    assert result.missing_keys == [] and set(result.unexpected_keys) == {'norm3.weight', 'norm3.bias'}
    last = GCViT('xxtiny', window_size=IMAGENET_WINDOWS, out_indices=(3, ), drop_path_rate=0.0).eval()
    last.load_state_dict(sd, strict=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = peer.forward_intermediates(x, indices=4, intermediates_only=True)
        got = raw(x) + last(x)
    for fa, fb in zip(ref, got):
        assert fa.shape == fb.shape
        assert_features_close(fb, fa)


def test_query_generator_follows_the_official_rule():
    """Stage 2 does not pool its queries when its window equals its 224 px map (14), else it pools."""
    cls = GCViT('xxtiny', window_size=IMAGENET_WINDOWS)
    det = GCViT('xxtiny', window_size=24)
    for m, stage2_keep in ((cls, True), (det, False)):
        keeps = [[f.keep_dim for f in lvl.q_global_gen.to_q_global] for lvl in m.levels]
        assert keeps == [[False] * 3, [False] * 2, [stage2_keep], [True]]


def test_timm_checkpoint_loads_into_dense_model_with_resized_tables(tmp_path):
    timm = pytest.importorskip('timm')
    peer = randomize_(timm.create_model('gcvit_xxtiny', pretrained=False), seed=3)
    path = tmp_path / 'gcvit_xxtiny_224_nvidia.pth'
    torch.save(peer.state_dict(), path)
    ours = GCViT('xxtiny', window_size=24, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    result = ours.load_pretrained(str(path))
    # an ImageNet file has only the final norm (-> norm3); norm0..2 keep their LayerNorm init
    assert sorted(result.missing_keys) == sorted(f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias'))
    assert result.unexpected_keys == []
    table = ours.levels[2].blocks[1].attn.relative_position_bias_table
    assert table.shape == (47 * 47, 8)
    src = peer.state_dict()['stages.2.blocks.1.attn.rel_pos.relative_position_bias_table']
    assert not torch.allclose(table[:src.shape[0]], src)  # resized, not copied


def test_official_classification_layout_loads_through_init_cfg(tmp_path):
    """An official ImageNet file (timm trainer: {'state_dict': ...}, final 'norm', 'head', index
    buffers) loads into the classification-window model unchanged; the final norm becomes norm3."""
    src = randomize_(GCViT(SMALL, window_size=IMAGENET_WINDOWS, out_indices=(3, )), seed=4)
    official = {k.replace('norm3.', 'norm.'): v for k, v in src.state_dict().items()}
    official['head.weight'] = torch.randn(1000, 64)
    official['head.bias'] = torch.randn(1000)
    official['levels.0.blocks.0.attn.relative_position_index'] = torch.zeros(49, 49, dtype=torch.long)
    path = tmp_path / 'gcvit_1k_small_arch.pth.tar'
    torch.save({'state_dict': official, 'epoch': 1}, path)
    dst = GCViT(SMALL, window_size=IMAGENET_WINDOWS, out_indices=(3, ),
                init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    got = dst.state_dict()
    assert set(got) == set(src.state_dict())
    for k, v in src.state_dict().items():
        torch.testing.assert_close(got[k], v, msg=k)


def test_out_indices_subset_and_negative():
    m = GCViT(SMALL, window_size=3, out_indices=(0, -2)).eval()
    assert m.out_indices == (0, 2) and m.out_channels == [8, 32]
    assert not hasattr(m, 'norm1') and not hasattr(m, 'norm3')
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 64, 48))
    assert [o.shape for o in outs] == [(1, 8, 16, 12), (1, 32, 4, 3)]


def test_gradients_reach_every_parameter_with_cp():
    m = GCViT(dict(SMALL, layer_scale=1e-5), window_size=3, with_cp=True, drop_path_rate=0.0).train()
    assert params_without_gradient(m, torch.randn(2, 3, 50, 70)) == []


def test_frozen_stages():
    m = GCViT(SMALL, window_size=3, frozen_stages=2)
    assert m.train() is m
    for mod in (m.patch_embed, m.levels[0], m.levels[1], m.norm0, m.norm1):
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    assert m.levels[2].training and all(p.requires_grad for p in m.levels[2].parameters())
    assert all(p.requires_grad for p in m.norm2.parameters())
    stem_only = GCViT(SMALL, window_size=3, frozen_stages=0).train()
    assert not any(p.requires_grad for p in stem_only.patch_embed.parameters())
    assert all(p.requires_grad for p in stem_only.levels[0].parameters())


def test_bad_arch_and_window_errors():
    with pytest.raises(ValueError, match=r"unknown arch 'huge'.*'base'.*'tiny'"):
        GCViT('huge')
    with pytest.raises(ValueError, match='missing'):
        GCViT(dict(embed_dims=64, depths=(2, 2, 6, 2)))
    with pytest.raises(ValueError, match='four stages'):
        GCViT(dict(embed_dims=8, depths=(2, 2), num_heads=(1, 2)))
    with pytest.raises(ValueError, match='window_size'):
        GCViT('tiny', window_size=(7, 7, 14))
    with pytest.raises(ValueError, match='out_indices'):
        GCViT('tiny', out_indices=(4, ))


@pytest.mark.slow
def test_toy_mask_rcnn_gcvit_xxt_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/gcvit/mask_rcnn_gcvit_xxt_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
