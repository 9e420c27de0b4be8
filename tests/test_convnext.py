"""ConvNeXt fidelity: parameter counts of the official models, equal features to mmpretrain's and
timm's implementations given the same weights (through our converter), the official classifier's
pooled-then-normed features, checkpoint layouts, any input size, freezing, checkpointing, gradients,
mmdet's/mmseg's layer-wise lr decay on our parameter names and a toy detection run."""
import math
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.convnext import ConvNeXt, convert_convnext_checkpoint
from vitdense.testing import assert_features_close, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Parameters of the ImageNet classifiers (backbone + final norm + 1000-way head). Source: the official
# README (facebookresearch/ConvNeXt) lists 28M/50M/89M/198M/350M; the exact counts are those of the
# official models/convnext.py (convnext_tiny ... convnext_xlarge, counted by running it at commit
# 048efcea), equal to timm's convnext_* counts.
OFFICIAL_PARAMS = {'tiny': 28_589_128, 'small': 50_223_688, 'base': 88_591_464, 'large': 197_767_336,
                   'xlarge': 350_196_968}
SMALL = dict(depths=(1, 1, 2, 1), dims=(8, 16, 32, 64))


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = ConvNeXt(arch, out_indices=(3, ))  # norm3 has the final norm's shape
    head = nn.Linear(m.num_features[-1], 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == OFFICIAL_PARAMS[arch]


def mmpretrain_convnext_t(**kw):
    from mmpretrain.models.backbones import ConvNeXt as MMConvNeXt
    return MMConvNeXt(arch='tiny', out_indices=(0, 1, 2, 3), gap_before_final_norm=False, drop_path_rate=0.0,
                      **kw)


@pytest.mark.parametrize('size', [(224, 224), (96, 160), (128, 64)])
def test_equals_mmpretrain_given_same_weights(size):
    """mmpretrain's ConvNeXt (used by mmdet/mmseg configs) floors odd sizes, so the sizes here are
    multiples of 32, where flooring and our padding agree."""
    peer = randomize_(mmpretrain_convnext_t(), seed=1)
    peer.eval()
    ours = ConvNeXt('tiny')
    ours.load_state_dict(convert_convnext_checkpoint(peer.state_dict()), strict=True)
    ours.eval()
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = peer(x), ours(x)
    assert len(a) == len(b) == 4
    for fa, fb in zip(a, b):
        assert fa.shape == fb.shape
        assert_features_close(fb, fa)


def test_equals_timm_stage_outputs_and_pooled_features():
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = randomize_(timm.create_model('convnext_tiny', pretrained=False), seed=2).eval()
    sd = convert_convnext_checkpoint(peer.state_dict())
    raw = ConvNeXt('tiny', out_norm=False).eval()
    result = raw.load_state_dict(sd, strict=False)
    assert result.missing_keys == [] and set(result.unexpected_keys) == {'norm3.weight', 'norm3.bias'}
    cls = ConvNeXt('tiny', out_indices=(3, ), gap_before_final_norm=True).eval()
    cls.load_state_dict(sd, strict=True)  # timm's head.norm became norm3
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = peer.forward_intermediates(x, indices=4, intermediates_only=True)
        got = raw(x)
        pooled_ref = peer.forward_head(peer.forward_features(x), pre_logits=True)
        (pooled,) = cls(x)
    for fa, fb in zip(ref, got):
        assert_features_close(fb, fa)
    assert pooled.shape == (2, 768, 1, 1)
    assert_features_close(pooled.flatten(1), pooled_ref)


def test_official_classification_layout_loads_through_init_cfg(tmp_path):
    """An official-release file ({'model': ...}: downsample_layers, stages.i.j.dwconv, final norm,
    head) loads through init_cfg=Pretrained; the final norm becomes norm3."""
    src = randomize_(ConvNeXt(SMALL, out_indices=(3, )), seed=3)
    official = {k.replace('norm3.', 'norm.'): v for k, v in src.state_dict().items()}
    official['head.weight'] = torch.randn(1000, 64)
    official['head.bias'] = torch.randn(1000)
    path = tmp_path / 'convnext_small_arch_1k_224.pth'
    torch.save({'model': official}, path)
    dst = ConvNeXt(SMALL, out_indices=(3, ), init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    got = dst.state_dict()
    assert set(got) == set(src.state_dict())
    for k, v in src.state_dict().items():
        torch.testing.assert_close(got[k], v, msg=k)


def test_mmdet_format_checkpoint_with_prefix_loads(tmp_path):
    """A detector checkpoint with mmpretrain's backbone keys ('backbone.stages.0.0.depthwise_conv')."""
    peer = randomize_(mmpretrain_convnext_t(), seed=4)
    path = tmp_path / 'mask_rcnn.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in peer.state_dict().items()}, 'meta': {}}, path)
    ours = ConvNeXt('tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    peer.eval()
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(peer(x), ours(x)):
            assert_features_close(b, a)


def test_bottom_right_pixels_are_not_dropped():
    """The last row/column of a 4k+1 image reaches the output (the official code would crop them)."""
    m = randomize_(ConvNeXt(SMALL, out_indices=(0, )), seed=5).eval()
    x = torch.randn(1, 3, 33, 33)
    y = x.clone()
    y[..., 32, :] += 1.0
    with torch.no_grad():
        assert not torch.allclose(m(x)[0][..., -1, :], m(y)[0][..., -1, :])


def test_out_indices_subset_and_negative():
    m = ConvNeXt(SMALL, out_indices=(1, -1)).eval()
    assert m.out_indices == (1, 3) and m.out_channels == [16, 64]
    assert not hasattr(m, 'norm0') and not hasattr(m, 'norm2')
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 64, 64))
    assert [o.shape for o in outs] == [(1, 16, 8, 8), (1, 64, 2, 2)]


def test_frozen_stages():
    m = ConvNeXt(SMALL, frozen_stages=2)
    assert m.train() is m
    frozen = [m.downsample_layers[0], m.downsample_layers[1], m.stages[0], m.stages[1], m.norm0, m.norm1]
    for mod in frozen:
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    for mod in (m.downsample_layers[2], m.stages[2], m.norm2):
        assert mod.training and all(p.requires_grad for p in mod.parameters())
    stem_only = ConvNeXt(SMALL, frozen_stages=0).train()
    assert not any(p.requires_grad for p in stem_only.downsample_layers[0].parameters())
    assert all(p.requires_grad for p in stem_only.stages[0].parameters())


def test_layer_scale_off_has_no_gamma():
    m = ConvNeXt(SMALL, layer_scale_init_value=0)
    assert not any(n.endswith('gamma') for n, _ in m.named_parameters())
    assert ConvNeXt(SMALL).stages[0][0].gamma.detach().eq(1e-6).all()


def _lr_scales(constructor_cls, backbone, paramwise_cfg):
    model = nn.Module()
    model.backbone = backbone
    optim = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
    ctor = constructor_cls(optim, paramwise_cfg)
    wrapper = ctor(model)
    scale = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            scale[id(p)] = (group['lr_scale'], group['weight_decay'])
    return [(tuple(p.shape), scale[id(p)]) for _, p in backbone.named_parameters()]


@pytest.mark.parametrize('library,decay_type', [('mmdet', 'layer_wise'), ('mmseg', 'stage_wise')])
def test_openmmlab_layer_decay_constructor_accepts_our_names(library, decay_type):
    """mmdet's/mmseg's LearningRateDecayOptimizerConstructor (used by the official ConvNeXt dense
    configs) key on 'ConvNeXt' in the class name and on 'backbone.downsample_layers.i' /
    'backbone.stages.i.j': our backbone gets exactly the groups of mmpretrain's ConvNeXt."""
    import importlib
    module = importlib.import_module(f'{library}.engine.optimizers.layer_decay_optimizer_constructor')
    ctor = module.LearningRateDecayOptimizerConstructor
    cfg = dict(decay_rate=0.9, decay_type=decay_type, num_layers=6)
    ours = _lr_scales(ctor, ConvNeXt('tiny'), cfg)
    peer = _lr_scales(ctor, mmpretrain_convnext_t(), cfg)
    assert ours == peer
    assert len({s for _, (s, _) in ours}) >= 4  # the scales really vary with depth


@pytest.mark.slow
def test_toy_mask_rcnn_convnext_t_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/convnext/mask_rcnn_convnext_t_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
