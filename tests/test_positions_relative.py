"""ALiBi (attnviz.positions.relative) against the ALiBi paper's slopes and BLOOM's implementation in transformers."""

import pytest
import torch

from attnviz.positions import alibi_bias, alibi_slopes


def test_slopes_of_the_paper_for_8_and_16_heads():
    # Press et al. (2022), section 3: 8 heads use 1/2, 1/4, ..., 1/256; 16 heads start at 1/2^0.5, ratio 1/2^0.5
    assert alibi_slopes(8).tolist() == [1 / 2**h for h in range(1, 9)]
    expected = torch.tensor([2 ** (-0.5 * h) for h in range(1, 17)], dtype=torch.float64)
    assert torch.allclose(alibi_slopes(16), expected, rtol=1e-15, atol=0)
    assert alibi_slopes(1).tolist() == [2**-8]


def test_slopes_for_a_head_count_that_is_not_a_power_of_two():
    # the paper's code: the 8 slopes of 8 heads, then 2^-0.5, 2^-1.5, ... (every other slope of 16 heads)
    expected = [2.0**-h for h in range(1, 9)] + [2**-0.5, 2**-1.5, 2**-2.5, 2**-3.5]
    assert torch.allclose(alibi_slopes(12), torch.tensor(expected, dtype=torch.float64), rtol=1e-15, atol=0)


def test_bias_is_minus_slope_times_distance_below_the_diagonal():
    bias = alibi_bias(5, 2)  # slopes 1/16, 1/256
    assert bias.shape == (2, 5, 5) and bias.dtype == torch.float64
    assert bias[0, 4].tolist() == [-4 / 16, -3 / 16, -2 / 16, -1 / 16, 0.0]
    assert bias[1, 3, 1].item() == -2 / 256
    assert torch.equal(bias, bias.transpose(-1, -2))  # symmetric: -slope |i - j|


@pytest.mark.parametrize("n_heads", [4, 6, 12, 32])
def test_rows_equal_bloom_up_to_a_constant_so_softmax_agrees(n_heads):
    bloom = pytest.importorskip("transformers.models.bloom.modeling_bloom")
    n = 9
    ref = bloom.build_alibi_tensor(torch.ones(1, n), n_heads, torch.float64)  # (H, 1, n): slope_h * j
    bias = alibi_bias(n, n_heads)
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    ours = torch.softmax(bias.masked_fill(~causal, float("-inf")), -1)
    theirs = torch.softmax(ref.expand(n_heads, n, n).masked_fill(~causal, float("-inf")), -1)
    assert torch.allclose(alibi_slopes(n_heads), ref[:, 0, 1], rtol=1e-6, atol=0)  # BLOOM computes slopes in float32
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-6)  # so its weights carry float32 rounding


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: alibi_slopes(0), "n_heads must be >= 1"),
        (lambda: alibi_bias(0, 8), "n must be >= 1"),
        (lambda: alibi_bias(4, 2.0), "n_heads must be an int"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
