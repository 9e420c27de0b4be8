"""Twins (PCPVT, SVT) fidelity: parameter counts of the official classifiers, equal features to
timm's twins_* and mmseg's PCPVT/SVT given the same weights (through our converter), any input size,
freezing, checkpointing, checkpoint loading and a toy Mask R-CNN run."""
import math
import os
import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.twins import TwinsPCPVT, TwinsSVT, convert_twins_checkpoint
from vitdense.testing import assert_features_close, params_without_gradient, randomize_, toy_training_run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Exact parameter counts of the official ImageNet-1k classifiers, computed by instantiating the
# official model definitions (Meituan-AutoML/Twins @ c1ff6714, ``gvt.py``: pcpvt_*_v0 and
# alt_gvt_*) and printed as "n_parameters" in the official training logs (logs/pcpvt_s.txt, ...,
# logs/svt_l.txt); the README rounds them to 24.1/43.8/60.9M (PCPVT) and 24/56/99.2M (SVT). timm's
# twins_* give the same counts.
OFFICIAL_PARAMS = {
    (TwinsPCPVT, 'small'): 24_106_216, (TwinsPCPVT, 'base'): 43_828_456, (TwinsPCPVT, 'large'): 60_989_672,
    (TwinsSVT, 'small'): 24_060_776, (TwinsSVT, 'base'): 56_070_952, (TwinsSVT, 'large'): 99_271_400,
}


@pytest.mark.parametrize('cls,arch', sorted(OFFICIAL_PARAMS, key=lambda k: (k[0].__name__, k[1])),
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_param_count_equals_official(cls, arch):
    # The classifier: no per-stage norms, a final norm on the last stage, global pooling, head.
    m = cls(arch, extra_norm=False, final_norm=True)
    head = nn.Linear(m.num_features[-1], 1000)
    assert sum(p.numel() for mod in (m, head) for p in mod.parameters()) == OFFICIAL_PARAMS[(cls, arch)]


def _set_ln_eps(module, eps):
    for m in module.modules():
        if isinstance(m, nn.LayerNorm):
            m.eps = eps
    return module


# timm's Twins equals the official classification code (LSA pads with zeros and no mask, as the
# official detection code; final norm on the last stage only).
@pytest.mark.parametrize('variant', ['pcpvt_small', 'svt_small'])
@pytest.mark.parametrize('size', [(224, 224), (256, 320)])
def test_equals_timm_given_same_weights(variant, size):
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = randomize_(timm.create_model(f'twins_{variant}', pretrained=False), seed=2).eval()
    if variant == 'svt_small':
        ours = TwinsSVT('small', drop_path_rate=0.0, extra_norm=False, final_norm=True, lsa_pad_mask=False)
    else:
        ours = TwinsPCPVT('small', drop_path_rate=0.0, final_norm=True)
    result = ours.load_state_dict(convert_twins_checkpoint(peer.state_dict()), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []  # only timm's head was dropped
    ours.eval()
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_features_close(ours(x), peer.forward_intermediates(x, norm=True, intermediates_only=True))


def mmseg_peer(kind):
    import mmseg.models  # noqa: F401
    from mmseg.registry import MODELS as MMSEG
    if kind == 'pcpvt':
        return MMSEG.build(dict(type='mmseg.PCPVT', embed_dims=[64, 128, 320, 512], num_heads=[1, 2, 5, 8],
                                mlp_ratios=[8, 8, 4, 4], depths=[3, 4, 6, 3], sr_ratios=[8, 4, 2, 1],
                                qkv_bias=True, drop_path_rate=0.0))
    return MMSEG.build(dict(type='mmseg.SVT', embed_dims=[64, 128, 256, 512], num_heads=[2, 4, 8, 16],
                            mlp_ratios=[4, 4, 4, 4], depths=[2, 2, 10, 4], sr_ratios=[8, 4, 2, 1],
                            windiow_sizes=[7, 7, 7, 7], qkv_bias=True, drop_path_rate=0.0,
                            norm_after_stage=True))


# mmseg's GSA runs nn.MultiheadAttention (fused in_proj/out_proj, explicit softmax); ours q/kv Linear
# + scaled_dot_product_attention: fp32 reordering, inside assert_features_close's 1e-4 of the scale.


# mmseg uses LayerNorm eps 1e-5 everywhere (the official blocks use 1e-6): ours is set to mmseg's
# eps for the comparison. mmseg pads the patch embeddings like ours and floors the key reduction
# like the official code (sr_pad=False). Its LSA mask only takes effect when both sides of a map
# need padding (or none), so the SVT sizes are chosen that way: at 256x320 every stage pads both.
@pytest.mark.parametrize('kind,size', [('pcpvt', (224, 224)), ('pcpvt', (223, 317)), ('svt', (224, 224)),
                                       ('svt', (256, 320))])
def test_equals_mmseg_given_same_weights(kind, size):
    peer = randomize_(mmseg_peer(kind), seed=1)
    peer.eval()
    ours = TwinsPCPVT('small', drop_path_rate=0.0, sr_pad=False) if kind == 'pcpvt' else \
        TwinsSVT('small', drop_path_rate=0.0, sr_pad=False)
    ours.load_state_dict(convert_twins_checkpoint(peer.state_dict()), strict=True)
    _set_ln_eps(ours, 1e-5).eval()
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert_features_close(ours(x), peer(x))


SMALL_SVT = dict(embed_dims=(16, 32, 48, 64), depths=(2, 2, 2, 2), num_heads=(1, 2, 3, 4),
                 mlp_ratios=(2, 2, 2, 2), sr_ratios=(8, 4, 2, 1), window_sizes=(7, 7, 7, 7))
SMALL_PCPVT = {k: v for k, v in SMALL_SVT.items() if k != 'window_sizes'}


def test_lsa_pad_mask_only_matters_when_padding():
    a = randomize_(TwinsSVT(SMALL_SVT, drop_path_rate=0.0), seed=3).eval()
    b = TwinsSVT(SMALL_SVT, drop_path_rate=0.0, lsa_pad_mask=False).eval()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        x = torch.randn(1, 3, 224, 224)  # 56, 28, 14, 7: all multiples of the window
        assert_features_close(b(x), a(x), rel=0, floor=0)
        x = torch.randn(1, 3, 96, 128)  # 24x32: padded
        assert not torch.allclose(a(x)[0], b(x)[0], atol=1e-3)


@pytest.mark.parametrize('cls,arch', [(TwinsPCPVT, SMALL_PCPVT), (TwinsSVT, SMALL_SVT)])
def test_out_indices_subset(cls, arch):
    full = randomize_(cls(arch, drop_path_rate=0.0), seed=5).eval()
    part = cls(arch, drop_path_rate=0.0, out_indices=(0, 2)).eval()
    part.load_state_dict(full.state_dict())
    assert part.out_channels == [16, 48]
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        a, b = full(x), part(x)
    assert len(b) == 2
    torch.testing.assert_close(b[0], a[0])
    torch.testing.assert_close(b[1], a[2])


@pytest.mark.parametrize('cls,arch,kw', [(TwinsPCPVT, SMALL_PCPVT, {}),
                                         (TwinsPCPVT, SMALL_PCPVT, {'final_norm': True}),
                                         (TwinsSVT, SMALL_SVT, {})])
def test_gradients_reach_every_parameter_with_cp(cls, arch, kw):
    m = cls(arch, with_cp=True, drop_path_rate=0.0, **kw)
    m.init_weights()
    m.train()
    assert params_without_gradient(m, torch.randn(2, 3, 50, 70)) == []


def test_frozen_stages():
    m = TwinsSVT(SMALL_SVT, frozen_stages=2)
    assert m.train() is m
    for mod in (m.patch_embeds[0], m.blocks[0], m.pos_block[0], m.norm0, m.patch_embeds[1], m.blocks[1],
                m.norm1):
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    assert m.blocks[2].training and all(p.requires_grad for p in m.blocks[2].parameters())
    assert all(p.requires_grad for p in m.norm2.parameters())
    zero = TwinsPCPVT(SMALL_PCPVT, frozen_stages=0)
    assert all(not p.requires_grad for p in zero.patch_embeds[0].parameters())
    assert all(p.requires_grad for p in zero.blocks[0].parameters())


def test_official_classification_checkpoint_loads(tmp_path):
    """Official release layout ({'model': ...}, final ``norm``, ``head``) through init_cfg, into
    the dense SVT (per-stage norms: the final norm is not used) and the classifier form."""
    src = randomize_(TwinsSVT(SMALL_SVT, extra_norm=False, final_norm=True), seed=3)
    official = {k.replace('norm3.', 'norm.'): v for k, v in src.state_dict().items()}
    official.update({'head.weight': torch.randn(1000, 64), 'head.bias': torch.randn(1000)})
    path = tmp_path / 'alt_gvt_small.pth'
    torch.save({'model': official}, path)
    cls_model = TwinsSVT(SMALL_SVT, extra_norm=False, final_norm=True,
                         init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    cls_model.init_weights()
    for k, v in cls_model.state_dict().items():
        torch.testing.assert_close(v, src.state_dict()[k], msg=k)
    dense = TwinsSVT(SMALL_SVT, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dense.init_weights()
    for k, v in dense.state_dict().items():
        if k in src.state_dict() and not k.startswith('norm'):
            torch.testing.assert_close(v, src.state_dict()[k], msg=k)


def test_official_dense_checkpoint_loads(tmp_path):
    """Official detection/segmentation checkpoint: ``backbone.`` prefix, ``norm_list.i`` and the
    unused final ``norm`` of the official dense model."""
    src = randomize_(TwinsSVT(SMALL_SVT), seed=4)
    sd = {}
    for k, v in src.state_dict().items():
        m = re.match(r'norm(\d+)\.(.*)', k)
        sd['backbone.' + (f'norm_list.{m.group(1)}.{m.group(2)}' if m else k)] = v
    sd['backbone.norm.weight'] = torch.randn(64)
    sd['backbone.norm.bias'] = torch.randn(64)
    path = tmp_path / 'upernet_svt.pth'
    torch.save({'state_dict': sd, 'meta': {}}, path)
    dst = TwinsSVT(SMALL_SVT, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    for k, v in dst.state_dict().items():
        torch.testing.assert_close(v, src.state_dict()[k], msg=k)


def test_mmseg_format_checkpoint_loads(tmp_path):
    peer = randomize_(mmseg_peer('pcpvt'), seed=5)
    path = tmp_path / 'pcpvt_mmseg.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in peer.state_dict().items()}}, path)
    ours = TwinsPCPVT('small', sr_pad=False, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    _set_ln_eps(ours, 1e-5)
    peer.eval()
    ours.eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert_features_close(ours(x), peer(x))


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match=r"unknown arch 'tiny'.*'base'.*'large'.*'small'"):
        TwinsSVT('tiny')
    with pytest.raises(ValueError, match=r"missing \['window_sizes'\]"):
        TwinsSVT(SMALL_PCPVT)
    with pytest.raises(ValueError, match='out_indices'):
        TwinsPCPVT('small', out_indices=(5,))
    with pytest.raises(TypeError, match='lsa_pad_mask'):
        TwinsPCPVT('small', lsa_pad_mask=True)  # an SVT-only option


@pytest.mark.slow
def test_toy_mask_rcnn_svt_s_learns(tmp_path):
    losses, metrics = toy_training_run(os.path.join(ROOT, 'configs/twins/mask_rcnn_svt_s_toy.py'),
                                       str(tmp_path), iters=10, warmup=2, train_images=4, val_images=4)
    assert len(losses) == 10 and np.isfinite(losses).all()
    assert losses[-3:].mean() < losses[:3].mean(), losses
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, metrics
