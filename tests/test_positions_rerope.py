"""ReRoPE and Leaky ReRoPE (attnviz.positions.rerope) against rotating each pair by its own relative position."""

import pytest
import torch

from attnviz.attention import scores
from attnviz.positions import apply_rope, rerope_positions, rerope_scores, rope_frequencies


def test_rerope_positions_match_the_worked_example():
    rel = rerope_positions(8, 3)
    assert rel[5, :6].tolist() == [3, 3, 3, 2, 1, 0]
    assert rel.tril().max().item() == 3
    leaky = rerope_positions(8, 3, leak=2)
    assert leaky[7].tolist() == [5, 4.5, 4, 3.5, 3, 2, 1, 0]
    assert rerope_positions(1000, 16).tril().max().item() == 16  # bounded for any length


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_rerope_scores_equal_rotating_each_pair_by_its_own_relative_position(layout):
    torch.manual_seed(0)
    n, d = 12, 8
    q, k = torch.randn(2, n, d, dtype=torch.float64), torch.randn(2, n, d, dtype=torch.float64)
    freqs = rope_frequencies(d, base=100.0)
    for leak in (None, 2.5):
        rel = rerope_positions(n, 4, leak)  # (n, n)
        q_rot = apply_rope(q[:, :, None, :].expand(2, n, n, d), rel, freqs, layout)  # (2, n, n, d): by P'_ij
        brute = torch.einsum("bijd,bjd->bij", q_rot, k)
        fast = rerope_scores(q, k, freqs, 4, leak, layout)
        assert torch.allclose(fast.tril(), brute.tril(), atol=1e-10, rtol=0)


def test_rerope_with_a_window_beyond_the_length_is_plain_rope():
    torch.manual_seed(1)
    q, k = torch.randn(6, 8, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64)
    freqs = rope_frequencies(8)
    pos = torch.arange(6)
    plain = scores(apply_rope(q, pos, freqs), apply_rope(k, pos, freqs), scale=1.0)
    assert torch.allclose(rerope_scores(q, k, freqs, 6).tril(), plain.tril(), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: rerope_positions(4, 0), "window"),
        (lambda: rerope_positions(0, 2), "n must be >= 1"),
        (lambda: rerope_positions(4, 2, leak=0.5), "leak must be >= 1"),
        (lambda: rerope_scores(torch.randn(3, 4), torch.randn(4, 4), rope_frequencies(4), 2), "q and k"),
        (lambda: rerope_scores(torch.randn(4, 4), torch.randn(4, 4), rope_frequencies(6), 2), "freqs must have length"),
    ],
)
def test_rerope_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
