import math

import pytest
import torch
import torch.nn as nn

from vitdense.testing import assert_features_close
from vitdense.layers import (Attention, ConvMlp, DropPath, LayerNorm2d, Mlp, PatchEmbed, PatchMerging,
                             RelativePositionBias, attention, drop_path_rates, gather_relative_bias,
                             maybe_checkpoint, pad_to_multiple, relative_position_index,
                             resize_relative_position_table, shifted_window_mask, window_partition,
                             window_reverse)


def reference_attention(q, k, v, bias=None, scale=None):
    scale = scale or q.shape[-1] ** -0.5
    a = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        a = a + bias
    return a.softmax(-1) @ v


def test_attention_matches_explicit_softmax_with_bias():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 10, 8).unbind(0)
    bias = torch.randn(4, 10, 10)
    # one attention over 10 keys of 8 channels: fp32 reordering stays near 1e-7 of the scale
    assert_features_close(attention(q, k, v, bias), reference_attention(q, k, v, bias), rel=1e-5)
    assert_features_close(attention(q, k, v, scale=0.3), reference_attention(q, k, v, scale=0.3), rel=1e-5)


def test_attention_cpu_bias_path_equals_sdpa_values_and_gradients():
    """With a finite bias on the CPU ``attention`` computes softmax(q k^T + bias) v itself (faster
    than SDPA's math path); values and gradients equal SDPA's, and a -inf bias keeps SDPA."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    q, k, v = (t.requires_grad_() for t in torch.randn(3, 2, 3, 4, 49, 8).unbind(0))
    bias = torch.randn(3, 4, 49, 49, requires_grad=True)  # grouped: one bias per window of a group
    ours = attention(q, k, v, bias, scale=0.2)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=0.2)
    assert_features_close(ours, ref, rel=1e-5)
    g = torch.randn_like(ours)
    got = torch.autograd.grad(ours, (q, k, v, bias), g)
    want = torch.autograd.grad(ref, (q, k, v, bias), g)
    for a, b in zip(got, want):
        assert_features_close(a, b, rel=1e-5)
    removed = torch.zeros(49).masked_fill(torch.arange(49) >= 40, float('-inf'))
    out = attention(q, k, v, removed, finite_bias=False)
    assert torch.isfinite(out).all()
    assert_features_close(out, reference_attention(q, k[..., :40, :], v[..., :40, :]), rel=1e-5)


def test_attention_module_grouped_bias_equals_materialised_bias():
    torch.manual_seed(0)
    m = Attention(16, 4).eval()
    B, G, N = 6, 3, 5
    x = torch.randn(B, N, 16)
    bias = torch.randn(G, 4, N, N)
    grouped = m(x, bias)
    full = m(x, bias.repeat(B // G, 1, 1, 1))
    assert_features_close(grouped, full, rel=1e-5)  # same values, other batching of the kernels
    # and the bias really changes the result
    assert not torch.allclose(grouped, m(x))
    with pytest.raises(ValueError, match='do not divide'):
        m(torch.randn(4, N, 16), bias)


def test_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match='not divisible'):
        Attention(10, 3)


@pytest.mark.parametrize('hw,ws', [((14, 21), 7), ((8, 12), (4, 6))])
def test_window_partition_roundtrip(hw, ws):
    x = torch.randn(2, *hw, 5)
    w = window_partition(x, ws)
    wh, ww = (ws, ws) if isinstance(ws, int) else ws
    assert w.shape == (2 * (hw[0] // wh) * (hw[1] // ww), wh * ww, 5)
    # the first window holds the top-left block in row-major order
    torch.testing.assert_close(w[0], x[0, :wh, :ww].reshape(-1, 5))
    torch.testing.assert_close(window_reverse(w, ws, *hw), x)


def test_window_partition_requires_multiple():
    with pytest.raises(ValueError, match='pad_to_multiple'):
        window_partition(torch.randn(1, 10, 14, 3), 7)


def test_pad_to_multiple_pads_bottom_right_with_zeros():
    x = torch.randn(1, 10, 15, 3)
    y = pad_to_multiple(x, 7)
    assert y.shape == (1, 14, 21, 3)
    torch.testing.assert_close(y[:, :10, :15], x)
    assert y[:, 10:].abs().sum() == 0 and y[:, :, 15:].abs().sum() == 0
    assert pad_to_multiple(x, (5, 5)) is x


def test_shift_mask_blocks_exactly_cross_region_pairs():
    H = W = 8
    ws, s = 4, 2
    mask = shifted_window_mask(H, W, ws, s)
    assert mask.shape == (4, 16, 16)
    # Recompute by brute force: label each pixel of the rolled map by the region it came from.
    label = torch.zeros(H, W, dtype=torch.long)
    for i in range(H):
        for j in range(W):
            ri = 0 if i < H - ws else (1 if i < H - s else 2)
            rj = 0 if j < W - ws else (1 if j < W - s else 2)
            label[i, j] = ri * 3 + rj
    win = window_partition(label.view(1, H, W, 1).float(), ws).squeeze(-1)
    expected = (win[:, :, None] != win[:, None, :]).float() * -100
    torch.testing.assert_close(mask, expected)
    assert mask[0].abs().sum() == 0  # the top-left window never mixes regions
    with pytest.raises(ValueError):
        shifted_window_mask(H, W, ws, 0)
    # shifting along one axis only: the column regions alone decide
    one_axis = shifted_window_mask(H, W, ws, (0, s))
    col = torch.tensor([0 if j < W - ws else (1 if j < W - s else 2) for j in range(W)]).repeat(H, 1)
    win = window_partition(col.view(1, H, W, 1).float(), ws).squeeze(-1)
    torch.testing.assert_close(one_axis, (win[:, :, None] != win[:, None, :]).float() * -100)


def test_relative_position_index_and_bias():
    idx = relative_position_index(3)
    assert idx.shape == (9, 9)
    assert idx.min() == 0 and idx.max() == 24
    # equal offsets share a row of the table; the diagonal is offset (0, 0)
    assert idx[0, 4] == idx[4, 8]
    assert len(set(idx.diagonal().tolist())) == 1
    rpb = RelativePositionBias(3, num_heads=2)
    b = rpb()
    assert b.shape == (2, 9, 9)
    torch.testing.assert_close(b[:, 0, 4], rpb.relative_position_bias_table[idx[0, 4]])
    assert 'relative_position_index' not in rpb.state_dict()
    torch.testing.assert_close(gather_relative_bias(rpb.relative_position_bias_table, idx), b)


def test_resize_relative_position_table():
    t = torch.randn(13 * 13, 3)
    r = resize_relative_position_table(t, 23 * 23)
    assert r.shape == (23 * 23, 3)
    assert resize_relative_position_table(t, 169) is t
    # a constant table stays constant
    c = resize_relative_position_table(torch.full((169, 2), 0.7), 529)
    torch.testing.assert_close(c, torch.full((529, 2), 0.7), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='square'):
        resize_relative_position_table(torch.randn(12, 2), 25)


def test_drop_path():
    x = torch.ones(1000, 4)
    dp = DropPath(0.3)
    assert torch.equal(dp.eval()(x), x)
    y = dp.train()(x)
    kept = (y[:, 0] != 0).float().mean().item()
    assert 0.6 < kept < 0.8
    torch.testing.assert_close(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))
    assert (y == 0).all(1).eq((y == 0).any(1)).all()  # whole samples are dropped
    with pytest.raises(ValueError):
        DropPath(1.0)
    rates = drop_path_rates(0.2, (2, 2, 6, 2))
    assert [len(r) for r in rates] == [2, 2, 6, 2]
    assert rates[0][0] == 0 and math.isclose(rates[-1][-1], 0.2, rel_tol=1e-6)


def test_layernorm2d_equals_channels_last_layernorm():
    x = torch.randn(2, 6, 5, 7)
    ln = LayerNorm2d(6)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    ref = nn.LayerNorm(6)
    ref.load_state_dict(ln.state_dict())
    torch.testing.assert_close(ln(x), ref(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


def test_mlps():
    x = torch.randn(2, 12, 8)
    assert Mlp(8, 32, 4)(x).shape == (2, 12, 4)
    cm = ConvMlp(8, 16)
    assert cm(x, (3, 4)).shape == (2, 12, 8)


def test_patch_embed_pads_to_stride():
    pe = PatchEmbed(3, 8, 4, norm_layer=nn.LayerNorm)
    tokens, hw = pe(torch.randn(2, 3, 30, 33))
    assert hw == (8, 9) and tokens.shape == (2, 72, 8)
    # padding is zeros at bottom/right: the explicit padded input gives the same result
    x = torch.randn(1, 3, 30, 33)
    padded = torch.nn.functional.pad(x, (0, 3, 0, 2))
    torch.testing.assert_close(pe(x)[0], pe(padded)[0])


def test_patch_merging_order_and_odd_sizes():
    pm = PatchMerging(2, 3, norm_layer=nn.Identity)
    with torch.no_grad():
        pm.reduction.weight.copy_(torch.eye(8)[:3])  # pass through the first 3 of 4C channels
    x = torch.arange(2 * 2 * 2, dtype=torch.float).view(1, 2, 2, 2)  # (B,H,W,C)
    y = pm(x)
    # channels 0..1 come from (0,0), channel 2 is channel 0 of (1,0)
    assert y.shape == (1, 1, 1, 3)
    assert y.flatten().tolist() == [x[0, 0, 0, 0].item(), x[0, 0, 0, 1].item(), x[0, 1, 0, 0].item()]
    assert PatchMerging(4)(torch.randn(2, 5, 7, 4)).shape == (2, 3, 4, 8)


def test_maybe_checkpoint_same_values_and_grads():
    lin = nn.Linear(4, 4)
    x = torch.randn(3, 4, requires_grad=True)
    y1 = maybe_checkpoint(lin, x, enabled=True)
    y1.sum().backward()
    g1 = x.grad.clone()
    x.grad = None
    y2 = maybe_checkpoint(lin, x, enabled=False)
    y2.sum().backward()
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(g1, x.grad)


def test_tokens_to_map_and_back_are_inverse_views():
    import torch
    from vitdense.layers.shape import map_to_tokens, tokens_to_map
    x = torch.randn(2, 3 * 5, 4)
    m = tokens_to_map(x, (3, 5))
    assert m.shape == (2, 4, 3, 5)
    assert m[1, 2, 1, 4] == x[1, 1 * 5 + 4, 2]  # row-major token order
    assert m.data_ptr() == x.data_ptr()  # a view, no copy
    t = map_to_tokens(m)
    assert t.shape == x.shape and torch.equal(t, x)
    with pytest.raises(ValueError, match='expected tokens'):
        tokens_to_map(x, (4, 4))


def test_init_conv_fan_out():
    import torch
    import torch.nn as nn
    from vitdense.layers.weight_init import init_conv_fan_out_
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 64, 3, groups=2)
    init_conv_fan_out_(conv)
    fan_out = 3 * 3 * 64 // 2
    assert abs(conv.weight.std().item() - (2.0 / fan_out) ** 0.5) < 0.1 * (2.0 / fan_out) ** 0.5
    assert torch.count_nonzero(conv.bias) == 0
    init_conv_fan_out_(nn.Conv2d(4, 4, 1, bias=False))  # no bias: no error


def test_window_attention_shared_by_swin_and_gcvit():
    import torch
    from vitdense.backbones import gcvit, swin
    from vitdense.layers.window_attention import WindowAttention
    assert swin.WindowAttention is WindowAttention and gcvit.WindowAttention is WindowAttention
    torch.manual_seed(0)
    attn = WindowAttention(16, 2, (3, 3)).eval()
    x = torch.randn(4, 9, 16)
    mask = torch.zeros(2, 9, 9)
    mask[1, :, 0] = -100.0
    y0, y1 = attn(x), attn(x, mask)
    assert y0.shape == x.shape
    assert torch.allclose(y0[:1], y1[:1], atol=1e-6)  # windows of image 0 / window 0: mask 0
    assert not torch.allclose(y0[1], y1[1], atol=1e-4)  # window 1 is masked


def test_rename_final_norm():
    import torch
    from vitdense.backbones._convert import rename_final_norm
    w, b = torch.ones(2), torch.zeros(2)
    sd = {'layers.0.x': w, 'layers.3.y': w, 'norm.weight': w, 'norm.bias': b}
    out = rename_final_norm(sd, 'layers')
    assert set(out) == {'layers.0.x', 'layers.3.y', 'norm3.weight', 'norm3.bias'}
    assert out['norm3.bias'] is b
    assert rename_final_norm({'layers.0.x': w}, 'layers') == {'layers.0.x': w}
    with pytest.raises(KeyError, match='stage keys'):
        rename_final_norm({'norm.weight': w}, 'stages')


@pytest.mark.parametrize('shape', [(2, 24, 7, 5), (1, 8, 1, 9)])
def test_depthwise_conv_channels_last_equals_conv_and_keeps_tokens_contiguous(shape):
    from vitdense.layers.shape import depthwise_conv_channels_last, map_to_tokens, tokens_to_map
    from vitdense.testing import assert_features_close
    B, C, H, W = shape
    conv = nn.Conv2d(C, C, 3, padding=1, groups=C)
    tokens = torch.randn(B, H * W, C, requires_grad=True)
    ref = conv(tokens_to_map(tokens, (H, W)).contiguous())
    got = depthwise_conv_channels_last(conv, tokens_to_map(tokens, (H, W)))
    assert_features_close(got, ref, rel=1e-5)  # the same 9-term sums, another summation order
    if H * W > 1:
        assert map_to_tokens(got).is_contiguous()  # no NCHW round trip left for the next Linear
    g_ref = torch.autograd.grad(ref.square().sum(), (tokens, conv.weight))
    g_got = torch.autograd.grad(got.square().sum(), (tokens, conv.weight))
    assert_features_close(g_got, g_ref, rel=1e-5)
    dense = nn.Conv2d(C, C, 3, padding=1)  # not depth-wise: runs unchanged
    x = tokens_to_map(tokens, (H, W))
    torch.testing.assert_close(depthwise_conv_channels_last(dense, x), dense(x))


def test_batchnorms_to_eval_leaves_other_modules_and_gradients_alone():
    from vitdense.layers.norm import batchnorms_to_eval
    m = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Sequential(nn.SyncBatchNorm(4), nn.GroupNorm(1, 4)),
                      nn.Dropout(0.5)).train()
    batchnorms_to_eval(m)
    assert m.training and m[0].training and m[3].training and m[2][1].training
    assert not m[1].training and not m[2][0].training
    assert all(p.requires_grad for p in m.parameters())
    before = m[1].running_mean.clone()
    m[1](torch.randn(2, 4, 3, 3) + 5)
    assert torch.equal(m[1].running_mean, before)


def test_swin_block_shared_by_swin_and_agent_swin():
    """vitdense.layers.swin_block.SwinBlock is Swin's block (moved there for Agent-Swin): on a map of
    one window it is norm1 -> window attention -> residual -> norm2 -> MLP -> residual; a shifted
    block with shift_small_maps=False equals the plain one on such a map; odd maps are padded."""
    from vitdense.backbones import swin
    from vitdense.layers.swin_block import SwinBlock
    from vitdense.testing import randomize_
    assert swin.SwinBlock is SwinBlock
    torch.manual_seed(0)
    plain = randomize_(SwinBlock(16, 2, window_size=4), seed=0).eval()
    x = torch.randn(2, 16, 16)
    with torch.no_grad():
        y = x + plain.attn(plain.norm1(x))
        ref = y + plain.mlp(plain.norm2(y))
        assert_features_close(plain(x, (4, 4)), ref)
        shifted = SwinBlock(16, 2, window_size=4, shift=True, shift_small_maps=False).eval()
        shifted.load_state_dict(plain.state_dict())
        assert_features_close(shifted(x, (4, 4)), plain(x, (4, 4)))
        shifted.shift_small_maps = True  # the dense rule: shift (and mask) even within one window
        assert not torch.allclose(shifted(x, (4, 4)), plain(x, (4, 4)))
        odd = torch.randn(1, 5 * 7, 16)
        assert shifted(odd, (5, 7)).shape == odd.shape
