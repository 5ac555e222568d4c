"""Streaming row entropy, key models, the sphere entropy gap and JL distortion ratios.

Chapters: entropy-invariant-scale, entropy-jl-lemma.
"""

import math

import mpmath as mp
import pytest
import torch

from attnviz.attention import attention_weights, random_keys, scores
from attnviz.metrics import (
    entropy,
    entropy_with_extra_key,
    random_projection_distortion,
    sphere_entropy_gap,
    streaming_row_entropy,
    streaming_softmax_stats,
)


def _dense(q, k, scale=None, causal=False):
    s = scores(q, k, scale)  # (..., n_q, n_k)
    if causal:
        visible = torch.ones(s.shape[-2:], dtype=torch.bool).tril()
        s = s.masked_fill(~visible, float("-inf"))
    return torch.logsumexp(s, -1), entropy(torch.softmax(s, -1))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block", [1, 5, 64, 10_000])
@pytest.mark.parametrize("scale", [None, 0.05, 2.0])
def test_streaming_matches_dense(causal, block, scale):
    torch.manual_seed(0)
    q = torch.randn(2, 3, 7, 16, dtype=torch.float64)  # (batch, heads, n_q, d)
    k = torch.randn(2, 3, 41, 16, dtype=torch.float64)
    log_z, h = streaming_softmax_stats(q, k, scale=scale, causal=causal, block=block)
    dense_log_z, dense_h = _dense(q, k, scale, causal)
    assert log_z.shape == h.shape == (2, 3, 7)
    assert torch.allclose(log_z, dense_log_z, atol=1e-12, rtol=0)
    assert torch.allclose(h, dense_h, atol=1e-12, rtol=0)
    assert torch.equal(streaming_row_entropy(q, k, scale=scale, causal=causal, block=block), h)


def test_streaming_causal_more_queries_than_keys_and_first_row():
    torch.manual_seed(1)
    q, k = torch.randn(9, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    h = streaming_row_entropy(q, k, causal=True, block=2)
    assert float(h[0]) == 0.0  # the first query sees one key
    expected = entropy(attention_weights(q, k, causal=True))
    assert torch.allclose(h, expected, atol=1e-12)


def test_streaming_large_logits_and_shared_keys():
    torch.manual_seed(2)
    q = torch.randn(3, 8, dtype=torch.float64) * 40  # logits of size ~1e2: exp would overflow unshifted
    k = torch.randn(1000, 8, dtype=torch.float64)
    log_z, h = streaming_softmax_stats(q, k, scale=1.0, block=7)
    dense_log_z, dense_h = _dense(q, k, 1.0)
    assert torch.allclose(log_z, dense_log_z, atol=1e-10, rtol=0) and torch.allclose(h, dense_h, atol=1e-10)


def test_streaming_limits_and_float32():
    k = torch.randn(100, 8)
    assert torch.allclose(streaming_row_entropy(torch.zeros(2, 8), k), torch.full((2,), math.log(100)))
    assert float(streaming_row_entropy(torch.randn(1, 8), k[:1])[0]) == 0.0  # one key
    h = streaming_row_entropy(torch.randn(4, 8), k, block=9)
    assert h.dtype == torch.float32 and bool(((h >= 0) & (h <= math.log(100) + 1e-5)).all())


def test_entropy_with_extra_key_matches_appending_a_logit():
    torch.manual_seed(3)
    s = torch.randn(6, 50, dtype=torch.float64) * 2
    extra = torch.randn(6, dtype=torch.float64) * 5
    h, p = entropy_with_extra_key(torch.logsumexp(s, -1), entropy(torch.softmax(s, -1)), extra)
    full = torch.softmax(torch.cat([s, extra[:, None]], -1), -1)
    assert torch.allclose(h, entropy(full), atol=1e-12) and torch.allclose(p, full[:, -1], atol=1e-14)
    # a key far below the others changes nothing; one far above takes all the weight
    h_low, p_low = entropy_with_extra_key(
        torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.3, dtype=torch.float64), -1e3
    )
    h_high, p_high = entropy_with_extra_key(
        torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.3, dtype=torch.float64), 1e3
    )
    assert float(p_low) == 0.0 and math.isclose(float(h_low), 1.3, abs_tol=1e-15)
    assert float(p_high) == 1.0 and abs(float(h_high)) < 1e-12


def _gap_bessel(lam, d):
    """h(lam, d) from E[e^(t cos)] = Gamma(d/2) (2/t)^(d/2-1) I_(d/2-1)(t), an independent closed form."""
    mp.mp.dps = 30
    t, nu = mp.mpf(lam) * d, mp.mpf(d) / 2 - 1
    mgf = mp.gamma(mp.mpf(d) / 2) * (2 / t) ** nu * mp.besseli(nu, t)
    return float(mp.log(mgf) - t * mp.besseli(nu + 1, t) / mp.besseli(nu, t))


@pytest.mark.parametrize("lam, d", [(1.0, 64), (0.125, 64), (0.3, 8), (2.0, 128), (1.0, 512), (0.5, 4096), (4.0, 16)])
def test_sphere_entropy_gap_matches_bessel_closed_form(lam, d):
    assert math.isclose(sphere_entropy_gap(lam, d), _gap_bessel(lam, d), rel_tol=0, abs_tol=1e-9)


def test_sphere_entropy_gap_small_d_closed_forms():
    t = 3.0  # d = 3: cos is uniform on [-1, 1], E[e^(t u)] = sinh(t) / t
    d3 = math.log(math.sinh(t) / t) - t / math.tanh(t) + 1
    assert math.isclose(sphere_entropy_gap(1.0, 3), d3, abs_tol=1e-7)  # trapezoid error O(h^2) here
    assert math.isclose(sphere_entropy_gap(0.5, 2), _gap_bessel(0.5, 2), abs_tol=1e-7)


def test_sphere_entropy_gap_table_of_post_7695():
    table = {32: -7.77471, 64: -15.4734, 96: -23.1726, 128: -30.8718, 256: -61.6692, 512: -123.264}
    for d, value in table.items():
        assert abs(sphere_entropy_gap(1.0, d) - value) < 6e-4  # the post prints 6 significant digits


def test_sphere_entropy_gap_properties():
    assert sphere_entropy_gap(0.0, 64) == 0.0
    assert math.isclose(sphere_entropy_gap(-0.7, 32), sphere_entropy_gap(0.7, 32), abs_tol=1e-12)
    gaps = [sphere_entropy_gap(lam, 64) for lam in (0.1, 0.2, 0.4, 0.8)]
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False)) and gaps[0] < 0  # -KL, falls with lam
    assert math.isclose(sphere_entropy_gap(0.01, 1000), -1000 * 0.01**2 / 2, rel_tol=2e-2)  # small lam


def test_random_keys():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    k = random_keys(20_000, 16, generator=g1)
    assert k.shape == (20_000, 16) and k.dtype == torch.float64
    assert torch.equal(k, random_keys(20_000, 16, generator=g2))
    assert abs(float(k.mean())) < 0.01 and abs(float(k.var()) - 1) < 0.01
    s = random_keys(1000, 16, sphere=True, generator=g1, dtype=torch.float32)
    assert s.dtype == torch.float32 and torch.allclose(s.norm(dim=-1), torch.full((1000,), 4.0))


def test_random_projection_distortion():
    torch.manual_seed(6)
    x = torch.randn(300, 200, dtype=torch.float64)
    ratios = random_projection_distortion(x, 50, generator=torch.Generator().manual_seed(0))
    assert ratios.shape == (300 * 299 // 2,)
    assert abs(float(ratios.mean()) - 1) < 0.03 and abs(float(ratios.var()) - 2 / 50) < 0.01  # chi2_k / k
    again = random_projection_distortion(3 * x + 1, 50, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ratios, again)  # invariant to scaling and translating the points
    wide = random_projection_distortion(x, 5000, generator=torch.Generator().manual_seed(0))
    assert float((wide - 1).abs().max()) < float((ratios - 1).abs().max())  # more dimensions, less distortion


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: streaming_row_entropy(torch.randn(2, 4), torch.randn(3, 4), block=0), "block must be >= 1"),
        (lambda: streaming_row_entropy(torch.randn(2, 4), torch.randn(0, 4)), "at least one key"),
        (lambda: streaming_row_entropy(torch.randn(2, 4), torch.randn(3, 5)), "share the head dimension"),
        (lambda: streaming_row_entropy(torch.randn(4), torch.randn(3, 4)), "at least 2 dimension"),
        (lambda: entropy_with_extra_key(torch.zeros(2), torch.tensor([1.0, -1.0]), 0.0), "h must be >= 0"),
        (lambda: entropy_with_extra_key(torch.zeros(2), torch.ones(2), float("nan")), "logit must be finite"),
        (lambda: sphere_entropy_gap(1.0, 1), "d must be >= 2"),
        (lambda: sphere_entropy_gap(float("inf"), 8), "lam must be finite"),
        (lambda: sphere_entropy_gap(1.0, 8, points=2), "points must be >= 3"),
        (lambda: random_keys(0, 8), "n must be >= 1"),
        (lambda: random_keys(5, 8, sphere="yes"), "sphere must be True or False"),
        (lambda: random_keys(5, 8, dtype=torch.int64), "dtype must be a floating-point"),
        (lambda: random_keys(5, 8, generator=0), "generator must be a torch.Generator"),
        (lambda: random_projection_distortion(torch.zeros(3, 4), 2), "repeated points"),
        (lambda: random_projection_distortion(torch.randn(1, 4), 2), "n >= 2 points"),
        (lambda: random_projection_distortion(torch.randn(5, 4), 0), "k must be >= 1"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
