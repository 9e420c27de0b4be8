"""assert_features_close, the budget of every fidelity test: it accepts fp32 reordering noise (other
thread count, float64 vs. float32 of one model) and rejects bug-sized errors (a Swin without its
shift, a window attention with a wrong relative-position bias)."""
import copy

import pytest
import torch

from vitdense.backbones.swin import SwinTransformer
from vitdense.testing import assert_features_close, randomize_

ARCH = dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))


@pytest.fixture(scope='module')
def swin_and_input():
    m = randomize_(SwinTransformer(ARCH, drop_path_rate=0.0), seed=11).eval()
    x = torch.randn(1, 3, 112, 144, generator=torch.Generator().manual_seed(1))
    return m, x


def _run(m, x):
    with torch.no_grad():
        return [o.float() for o in m(x.to(next(m.parameters()).dtype))]


def test_accepts_fp32_reordering_noise(swin_and_input):
    m, x = swin_and_input
    ref64 = _run(copy.deepcopy(m).double(), x)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _run(m, x)
        torch.set_num_threads(2)
        two = _run(m, x)
    finally:
        torch.set_num_threads(threads)
    assert_features_close(one, ref64)
    assert_features_close(two, ref64)
    assert_features_close(two, one)
    assert any((a - b).abs().max() > 0 for a, b in zip(one, ref64))  # the noise is really there


def test_rejects_a_missing_shift(swin_and_input):
    m, x = swin_and_input
    ref = _run(m, x)
    bad = copy.deepcopy(m)
    for blk in bad.modules():
        if hasattr(blk, 'shift_size'):
            blk.shift_size = 0
    with pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(_run(bad, x), ref)


def test_rejects_a_wrong_relative_position_bias(swin_and_input):
    m, x = swin_and_input
    ref = _run(m, x)
    bad = copy.deepcopy(m)
    attn = next(mod for mod in bad.modules() if hasattr(mod, 'relative_position_index'))
    attn.relative_position_index = attn.relative_position_index.t().contiguous()  # bias of (j, i) for (i, j)
    with pytest.raises(AssertionError, match='exceeds budget'):
        assert_features_close(_run(bad, x), ref)


def test_rejects_shape_count_and_non_finite():
    a = torch.ones(2, 3)
    with pytest.raises(AssertionError, match='shape'):
        assert_features_close(a, torch.ones(3, 2))
    with pytest.raises(AssertionError, match='outputs'):
        assert_features_close([a], [a, a])
    with pytest.raises(AssertionError, match='non-finite'):
        assert_features_close(torch.full((2, 3), float('nan')), a)
    assert_features_close(a * (1 + 5e-5), a)
    with pytest.raises(AssertionError, match='ratio'):
        assert_features_close(a * (1 + 2e-4), a)
