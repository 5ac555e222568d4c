"""Frequency schedules and ReRoPE, moved from test_lab.py (to be split into test_positions_*.py)."""

import math

import pytest
import torch

from attnviz.attention import scores
from attnviz.positions import apply_rope, rerope_positions, rerope_scores, rope_frequencies

# --- frequency schedules ------------------------------------------------------------------------------------------


def test_ntk_fixed_scales_every_pair_and_the_last_by_exactly_one_over_k():
    d, k = 128, 8.0
    ratio = rope_frequencies(d, scaling="ntk-fixed", factor=k) / rope_frequencies(d)
    lam = k ** (2 / d)
    assert ratio[0].item() == pytest.approx(1 / lam, rel=1e-12)  # 0.96803: even the top pair moves
    assert ratio[-1].item() == pytest.approx(1 / k, rel=1e-12)
    assert ratio[0].item() == pytest.approx(0.96803, abs=5e-6)


def test_ntk_mixed_matches_the_catalogue_and_its_two_limits():
    d, k = 128, 8.0
    ratio = rope_frequencies(d, scaling="ntk-mixed", factor=k, mix=0.625) / rope_frequencies(d)
    expected = {1: 0.85680, 2: 0.78792, 32: 0.25967, 64: 0.125}  # exp(-a m^b), m = i + 1 (positional.md section 9)
    for m, value in expected.items():
        assert ratio[m - 1].item() == pytest.approx(value, abs=5e-6)
    lam = ratio[:-1] / ratio[1:]  # lambda_(m+1) = ratio_m / ratio_(m+1): the digits' extra bases, non-increasing
    assert bool((lam[:-1] >= lam[1:] - 1e-12).all()) and bool((lam >= 1).all())
    fixed = rope_frequencies(d, scaling="ntk-fixed", factor=k)
    assert torch.allclose(rope_frequencies(d, scaling="ntk-mixed", factor=k, mix=1.0), fixed, rtol=1e-12, atol=0)
    linear = rope_frequencies(d, scaling="linear", factor=k)
    assert torch.allclose(rope_frequencies(d, scaling="ntk-mixed", factor=k, mix=0.0), linear, rtol=1e-12, atol=0)


def test_yarn_keeps_fast_pairs_and_interpolates_slow_ones():
    d, s, train_len = 32, 4.0, 64
    theta = rope_frequencies(d)
    ratio = rope_frequencies(d, scaling="yarn", factor=s, train_len=train_len, alpha=1.0, beta=4.0) / theta
    turns = theta * train_len / (2 * math.pi)
    assert torch.allclose(ratio[turns > 4], torch.ones(1, dtype=torch.float64))
    assert torch.allclose(ratio[turns < 1], torch.full((1,), 1 / s, dtype=torch.float64))
    ramp = (turns >= 1) & (turns <= 4)
    assert ramp.any() and bool(((ratio[ramp] >= 1 / s) & (ratio[ramp] <= 1)).all())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scaling": "yarn", "factor": 2.0}, "train_len"),
        ({"scaling": "yarn", "factor": 2.0, "train_len": 64, "alpha": 4.0, "beta": 1.0}, "beta"),
        ({"scaling": "ntk-mixed", "factor": 2.0, "mix": 1.5}, "mix"),
        ({"scaling": "ntk-old", "factor": 2.0}, "scaling"),
    ],
)
def test_schedule_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rope_frequencies(16, **kwargs)


# --- ReRoPE -------------------------------------------------------------------------------------------------------


def test_rerope_positions_match_the_worked_example():
    rel = rerope_positions(8, 3)
    assert rel[5, :6].tolist() == [3, 3, 3, 2, 1, 0]
    assert rel.tril().max().item() == 3
    leaky = rerope_positions(8, 3, leak=2)
    assert leaky[7].tolist() == [5, 4.5, 4, 3.5, 3, 2, 1, 0]
    assert rerope_positions(1000, 16).tril().max().item() == 16  # bounded for any length


def test_rerope_scores_equal_rotating_each_pair_by_its_own_relative_position():
    torch.manual_seed(0)
    n, d = 12, 8
    q, k = torch.randn(2, n, d, dtype=torch.float64), torch.randn(2, n, d, dtype=torch.float64)
    freqs = rope_frequencies(d, base=100.0)
    for leak in (None, 2.5):
        rel = rerope_positions(n, 4, leak)  # (n, n)
        q_rot = apply_rope(q[:, :, None, :].expand(2, n, n, d), rel, freqs)  # (2, n, n, d): q_i rotated by P'_ij
        brute = torch.einsum("bijd,bjd->bij", q_rot, k)
        fast = rerope_scores(q, k, freqs, 4, leak)
        assert torch.allclose(fast.tril(), brute.tril(), atol=1e-10)


def test_rerope_with_a_window_beyond_the_length_is_plain_rope():
    torch.manual_seed(1)
    q, k = torch.randn(6, 8, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64)
    freqs = rope_frequencies(8)
    pos = torch.arange(6)
    plain = scores(apply_rope(q, pos, freqs), apply_rope(k, pos, freqs), scale=1.0)
    assert torch.allclose(rerope_scores(q, k, freqs, 6).tril(), plain.tril(), atol=1e-12)


def test_rerope_bad_input():
    with pytest.raises(ValueError, match="window"):
        rerope_positions(4, 0)
    with pytest.raises(ValueError, match="leak"):
        rerope_positions(4, 2, leak=0.5)
    with pytest.raises(ValueError, match="q and k"):
        rerope_scores(torch.randn(3, 4), torch.randn(4, 4), rope_frequencies(4), 2)
