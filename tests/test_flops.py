"""FLOPs that count attention (vitdense.utils.flops): hand-computed counts and published figures."""
import pytest
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer

import vitdense
from vitdense.layers.attention import Attention
from vitdense.utils.flops import count_flops


def _mmengine_default(model, x):
    model.eval()
    with torch.no_grad():
        return FlopAnalyzer(model, (x,)).unsupported_ops_warnings(False).uncalled_modules_warnings(False).total()


@pytest.mark.parametrize('with_bias', [False, True], ids=['sdpa', 'explicit'])
def test_window_attention_block_matches_hand_count(with_bias):
    # 4 windows of 7x7 tokens, 96 channels, 3 heads: Swin-T's first stage on a 14x14 map
    windows, n, c, heads = 4, 49, 96, 3
    attn = Attention(c, heads)
    bias = torch.randn(1, heads, n, n) if with_bias else None

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = attn

        def forward(self, x):
            return self.attn(x, bias)

    x = torch.randn(windows, n, c)
    qkv, proj = windows * n * c * 3 * c, windows * n * c * c
    qk_and_wv = 2 * windows * heads * n * n * (c // heads)
    assert count_flops(Block(), inputs=x) == qkv + qk_and_wv + proj
    if not with_bias:  # through F.scaled_dot_product_attention mmengine alone sees only the projections
        assert _mmengine_default(Block(), x) == qkv + proj


def test_broadcast_matmul_and_einsum_are_counted_from_the_output():
    class Sparse(nn.Module):
        def forward(self, q, k):
            s = torch.matmul(k[0, 0].transpose(0, 1), q)  # (d, M) @ (B, h, M, N): the left operand broadcasts
            t = torch.einsum('bhmn,bhmd->bhnd', q, k)
            u = torch.einsum('bhnd,de,ef->bhnf', t, torch.ones(d, 5), torch.ones(5, 2))
            return s, t, u

    b, h, n, m, d = 2, 3, 10, 6, 4
    q, k = torch.randn(b, h, m, n), torch.randn(b, h, m, d)
    # the cheaper order multiplies the two small matrices first: d*5*2, then (b h n d) @ (d, 2)
    three_operand = d * 5 * 2 + b * h * n * d * 2
    assert count_flops(Sparse(), inputs=(q, k)) == b * h * d * n * m + b * h * m * n * d + three_operand


@pytest.mark.parametrize('name, published', [
    ('swin_t', 4.5), ('convnext_t', 4.5), ('pvtv2_b0', 0.6), ('biformer_t', 2.2), ('pvt_t', 1.9),
])
def test_published_224_figures(name, published):
    """The papers' 224-px FLOPs (one decimal; their classifier heads add < 0.01 G)."""
    model = vitdense.get_model(name)
    model.train()
    g = count_flops(model, (224, 224)) / 1e9
    assert round(g, 1) == published, g
    assert model.training


def test_sparse_attention_is_counted_where_mmengine_misses_it():
    # PVTv2's spatial-reduction attention runs through SDPA: the count with attention is higher by
    # exactly the q k^T and w v products of its four stages
    model = vitdense.get_model('pvtv2_b0')
    x = torch.zeros(1, 3, 224, 224)
    ours, theirs = count_flops(model, inputs=x), _mmengine_default(model, x)
    # stage i: N = (56 / 2^i)^2 queries, M = (7)^2 keys (reduction 8, 4, 2, 1), channels 32, 64, 160, 256
    expected = sum(2 * (56 // 2 ** i) ** 2 * 7 ** 2 * c * depth
                   for i, (c, depth) in enumerate([(32, 2), (64, 2), (160, 2), (256, 2)]))
    assert ours - theirs == expected


def test_command_line_prints_flops_and_params(capsys):
    from vitdense.utils.flops import main
    main(['pvtv2_b0', '--shape', '64', '96'])
    out = capsys.readouterr().out
    model = vitdense.get_model('pvtv2_b0')
    want = count_flops(model, (64, 96)) / 1e9
    assert out.startswith(f'pvtv2_b0: {want:.2f} GFLOPs at 64x96, 3.41 M params'), out
