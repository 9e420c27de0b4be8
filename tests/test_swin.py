"""Swin-T fidelity: parameter count of the official model, equal features to mmdet's and timm's
implementations given the same weights (through our converter), any input size, gradients."""
import pytest
import torch
import torch.nn as nn

from vitdense.backbones.swin import SwinTransformer, convert_swin_checkpoint

from vitdense.testing import assert_features_close, randomize_

# Parameters of the ImageNet-1k classifiers (backbone + final norm + 1000-way head). Source: the
# official Swin README lists 28M/50M/88M/197M; the exact counts are those of the official model
# definitions (also timm's swin_*_patch4_window7_224: 28,288,354 / 49,606,258 / 87,768,224 /
# 196,532,476).
OFFICIAL_PARAMS = {'tiny': 28_288_354, 'small': 49_606_258, 'base': 87_768_224, 'large': 196_532_476}


@pytest.mark.parametrize('arch', sorted(OFFICIAL_PARAMS))
def test_param_count_equals_official(arch):
    m = SwinTransformer(arch, out_indices=(3,))
    c = m.num_features[-1]
    head = nn.Linear(c, 1000)
    n = sum(p.numel() for p in m.parameters()) + sum(p.numel() for p in head.parameters())
    assert n == OFFICIAL_PARAMS[arch]


def mmdet_swin_t():
    from mmdet.models.backbones import SwinTransformer as MMDetSwin
    return MMDetSwin(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7,
                     drop_path_rate=0.0, out_indices=(0, 1, 2, 3))


@pytest.mark.parametrize('size', [(224, 224), (223, 317), (97, 61)])
def test_equals_mmdet_swin_given_same_weights(size):
    peer = randomize_(mmdet_swin_t(), seed=1)
    peer.eval()  # mmdet's train() returns None, so no chaining
    ours = SwinTransformer('tiny', drop_path_rate=0.0)
    missing, unexpected = ours.load_state_dict(convert_swin_checkpoint(peer.state_dict()), strict=True)
    ours.eval()
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = peer(x), ours(x)
    assert len(a) == len(b) == 4
    for fa, fb in zip(a, b):
        assert fa.shape == fb.shape
        assert_features_close(fb, fa)


def test_equals_timm_swin_features():
    timm = pytest.importorskip('timm', reason='timm is in requirements/optional.txt, installed by setup_env')
    peer = randomize_(timm.create_model('swin_tiny_patch4_window7_224', pretrained=False), seed=2).eval()
    ours = SwinTransformer('tiny', drop_path_rate=0.0, out_norm=False, shift_small_maps=False)
    result = ours.load_state_dict(convert_swin_checkpoint(peer.state_dict()), strict=False)
    # only the classifier head / final norm of timm are left over; nothing of ours is missing
    assert result.missing_keys == []
    assert set(result.unexpected_keys) <= {'norm3.weight', 'norm3.bias'}
    ours.eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = peer.forward_intermediates(x, indices=4, norm=False, intermediates_only=True)
        got = ours(x)
    for fa, fb in zip(ref, got):
        # timm reorders some fp32 sums (fused qkv/mask handling): 13 of 37,632 last-stage values
        # differ by up to 1.4e-5 on features of magnitude ~1, so the bound is 5e-5 here.
        assert_features_close(fb, fa)


def test_shift_small_maps_switch_only_affects_single_window_axes():
    """At 224 px only the 7x7 last stage fits in one window: the two rules agree before it."""
    a = randomize_(SwinTransformer('tiny', drop_path_rate=0.0), seed=5).eval()
    b = SwinTransformer('tiny', drop_path_rate=0.0, shift_small_maps=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        fa, fb = a(x), b(x)
    for i in range(3):
        torch.testing.assert_close(fa[i], fb[i])
    assert not torch.allclose(fa[3], fb[3], atol=1e-3)


def test_official_classification_layout_roundtrip(tmp_path):
    """An official-release style checkpoint ({'model': ...}, final 'norm', 'head', attn_mask and
    index buffers) loads through init_cfg=Pretrained and reproduces the source weights."""
    src = randomize_(SwinTransformer('tiny', out_indices=(3,)), seed=3)
    official = {}
    for k, v in src.state_dict().items():
        official[k.replace('norm3.', 'norm.')] = v
    official['head.weight'] = torch.randn(1000, 768)
    official['head.bias'] = torch.randn(1000)
    official['layers.0.blocks.1.attn_mask'] = torch.zeros(64, 49, 49)
    official['layers.0.blocks.0.attn.relative_position_index'] = torch.zeros(49, 49, dtype=torch.long)
    path = tmp_path / 'swin_tiny_patch4_window7_224.pth'
    torch.save({'model': official}, path)
    dst = SwinTransformer('tiny', out_indices=(0, 1, 2, 3),
                          init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    got = dst.state_dict()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(got[k], v)


def test_mmdet_format_checkpoint_with_prefix_loads(tmp_path):
    peer = randomize_(mmdet_swin_t(), seed=4)
    path = tmp_path / 'mask_rcnn.pth'
    torch.save({'state_dict': {'backbone.' + k: v for k, v in peer.state_dict().items()},
                'meta': {}}, path)
    ours = SwinTransformer('tiny', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    ours.init_weights()
    x = torch.randn(1, 3, 64, 64)
    peer.eval()
    ours.eval()
    with torch.no_grad():
        for a, b in zip(peer(x), ours(x)):
            assert_features_close(b, a)


def test_window12_checkpoint_resized_into_window7(tmp_path):
    src = SwinTransformer('tiny', window_size=12, out_indices=(3,))
    path = tmp_path / 'w12.pth'
    torch.save(src.state_dict(), path)
    dst = SwinTransformer('tiny', window_size=7, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    dst.init_weights()
    assert dst.layers[0].blocks[0].attn.relative_position_bias_table.shape == (169, 3)


def test_frozen_stages():
    m = SwinTransformer('tiny', frozen_stages=2)
    assert m.train() is m  # unlike mmdet's, train() returns the module
    frozen = [m.patch_embed, m.layers[0], m.layers[1], m.norm0, m.norm1]
    for mod in frozen:
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    assert m.layers[2].training and all(p.requires_grad for p in m.layers[2].parameters())
    assert all(p.requires_grad for p in m.norm2.parameters())


def test_abs_pos_embed_any_size():
    m = SwinTransformer(dict(embed_dims=16, depths=(2, 2), num_heads=(1, 2)), use_abs_pos_embed=True,
                        out_indices=(0, 1), window_size=3).eval()
    assert m.absolute_pos_embed.shape == (1, 16, 56, 56)
    with torch.no_grad():
        assert m(torch.randn(1, 3, 37, 53))[0].shape == (1, 16, 10, 14)
