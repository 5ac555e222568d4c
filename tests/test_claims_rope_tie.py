"""The claims of the rope-tie chapter, re-checked on other seeds, sizes and dimensions.

The chapter uses seeds 0-2, d = 64 and images up to 8x8. Here: seeds 10-19, d in (16, 64, 128), images up to
9x9, and references written independently of ``attnviz.positions.rope2d``: 1-D RoPE as complex rotations, the
positions of each scheme rebuilt from the posts' formulas (RoPE-Tie from 10040, RoPE-TV from 10352) and M-RoPE
from Qwen2-VL's rule (next text at the largest id used plus one). Each test names the chapter's check cell.
"""

import math

import pytest
import torch

from attnviz.positions import apply_rope_2d, image_span, rope_frequencies, rope_tie_positions

SEEDS = range(10, 20)
SIZES = [(h, w) for h in range(1, 10) for w in range(1, 10)]


def _rope_1d(x: torch.Tensor, pos: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """1-D RoPE, interleaved pairs, as complex multiplication (n, d)."""
    z = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())  # (n, d/2)
    return torch.view_as_real(z * torch.exp(1j * pos[:, None] * theta)).reshape(x.shape)


def _reference(segments, scheme):
    """Positions (N, 2) from the posts' formulas, ids from 0; ``last`` is the last id used (P = -1 at the start)."""
    out, last = [], -1.0
    for seg in segments:
        if seg[0] == "text":
            out += [(last + i, last + i) for i in range(1, seg[1] + 1)]
            last += seg[1]
            continue
        h, w = seg[1], seg[2]
        cells = [(r, c) for r in range(1, h + 1) for c in range(1, w + 1)]
        if scheme == "tie":  # 10040: (P + r s, P + c t), s = w + 1, t = h + 1
            out += [(last + r * (w + 1), last + c * (h + 1)) for r, c in cells]
            last += (w + 1) * (h + 1) - 1  # next text K = P + (w+1)(h+1)
        elif scheme == "tv":  # 10352: (beta1 + r, beta2 + c), next text P + wh + 1
            out += [(last + (w * h - h) / 2 + r, last + (w * h - w) / 2 + c) for r, c in cells]
            last += w * h  # next text P + wh + 1
        else:  # Qwen2-VL: start at P + 1, next text at the largest id used + 1
            out += [(last + r, last + c) for r, c in cells]
            last = max(max(p) for p in out)  # next text: that + 1
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("d", [16, 64, 128])
def test_text_at_n_n_is_1d_rope(seed, d):
    """degrade-numeric: contiguous split gives the 1-D vectors, alternating the 1-D logits of P q, P k."""
    g = torch.Generator().manual_seed(seed)
    theta, n = rope_frequencies(d), 40
    q, k = torch.randn(2, n, d, dtype=torch.float64, generator=g)
    pos = torch.arange(n, dtype=torch.float64) * 3.5  # any positions, not only 0..n-1
    diag = torch.stack((pos, pos), -1)  # (n, 2)
    contiguous = apply_rope_2d(q, diag, (theta[: d // 4], theta[d // 4 :]))
    assert (contiguous - _rope_1d(q, pos, theta)).abs().max() < 1e-12
    order = torch.cat((torch.arange(0, d // 2, 2), torch.arange(1, d // 2, 2)))
    split = (theta[order[: d // 4]], theta[order[d // 4 :]])
    two_d = apply_rope_2d(q, diag, split) @ apply_rope_2d(k, diag, split).T
    qp, kp = (v.reshape(n, d // 2, 2)[:, order.argsort()].reshape(n, d) for v in (q, k))
    one_d = _rope_1d(qp, pos, theta) @ _rope_1d(kp, pos, theta).T
    assert (two_d - one_d).abs().max() < 1e-12 * max(1.0, one_d.abs().max().item())
    shared = apply_rope_2d(q, diag, rope_frequencies(d // 2)) @ apply_rope_2d(k, diag, rope_frequencies(d // 2)).T
    assert (shared - one_d).abs().max() > 0.1  # one list for both axes is not 1-D RoPE


@pytest.mark.parametrize("scheme", ["tie", "tv", "mrope"])
def test_positions_follow_the_posts_formulas(scheme):
    """scaled-grid, tv-solution, all-sizes: every image up to 9x9 between text runs of several lengths."""
    for (h, w), L in zip(SIZES, [1, 2, 5, 9] * 30, strict=False):
        seq = [("text", L), ("image", h, w), ("text", 2), ("image", w, h), ("text", 1)]
        got = rope_tie_positions(seq, scheme).double()
        torch.testing.assert_close(got, _reference(seq, scheme), rtol=0.0, atol=0.0)


@pytest.mark.parametrize("h, w", SIZES)
def test_steps_in_and_out_and_what_an_image_costs(h, w):
    """all-sizes: equal steps for RoPE-Tie and RoPE-TV (M-RoPE only when square); K - L per scheme."""
    spend = {"tie": (w + 1) * (h + 1), "tv": w * h + 1, "mrope": max(h, w) + 1}
    for scheme, k_minus_l in spend.items():
        p = rope_tie_positions([("text", 3), ("image", h, w), ("text", 1)], scheme).double()
        step_in, step_out = p[3] - p[2], p[-1] - p[-2]
        assert torch.equal(step_in, step_out) == (scheme != "mrope" or h == w)
        assert p[-1, 0] - p[2, 0] == k_minus_l == image_span(h, w, scheme) + 1
        assert len({tuple(r) for r in p[3:-1].tolist()}) == h * w  # lossless


def test_smallest_integer_solution_divides_by_the_gcd():
    """integer-solution: (h+1)s = (w+1)t; the post's (w+1, h+1) always solves it, the smallest is it over gcd."""
    for h, w in SIZES:
        sols = [(s, t) for s in range(1, 12) for t in range(1, 12) if (h + 1) * s == (w + 1) * t]
        g = math.gcd(h + 1, w + 1)
        assert (w + 1, h + 1) in sols and sols[0] == ((w + 1) // g, (h + 1) // g)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scheme", ["tie", "tv", "mrope"])
def test_logits_inside_an_image_depend_on_the_offset_only(seed, scheme):
    """image-relativity: moving an image along the text leaves the logits between its patches unchanged."""
    g = torch.Generator().manual_seed(seed)
    d, h, w = 32, 3, 5
    theta = rope_frequencies(d)
    freqs = (theta[0::2], theta[1::2])
    q, k = torch.randn(2, h * w, d, dtype=torch.float64, generator=g)

    def logits(L):
        p = rope_tie_positions([("text", L), ("image", h, w)], scheme)[L:].double()
        return apply_rope_2d(q, p, freqs) @ apply_rope_2d(k, p, freqs).T

    base = logits(1)
    assert (logits(37) - base).abs().max() < 1e-9
    p = rope_tie_positions([("text", 1), ("image", h, w)], scheme)[1:].double()
    k0 = apply_rope_2d(k, p - p[0], freqs)  # keys rotated by their offset from patch 0
    assert (q[0] @ k0.T - base[0]).abs().max() < 1e-12 * max(1.0, base.abs().max().item())
