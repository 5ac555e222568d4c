"""Relative position scores (attnviz.positions.relative) against the papers' rules and independent references.

ALiBi against the authors' recursive get_slopes and BLOOM's implementation in transformers; KERPLE against its
closed forms; Sandwich against explicit cosine sums, the sinusoidal table and its concatenation form; XPOS
against hand-built rotation matrices, torchscale's zeta and a float32 overflow threshold computed here.
"""

import math

import pytest
import torch

from attnviz.positions import alibi_bias, alibi_slopes, rotation_matrix, sinusoidal
from attnviz.positions.relative import (
    kerple_bias,
    sandwich_bias,
    sandwich_concat,
    xpos_logits,
    xpos_overflow_position,
    xpos_scale,
)

RTOL = 1e-12  # float64 sums of a few hundred terms


def _get_slopes(n: int) -> list[float]:
    """The ALiBi authors' slope rule, restated: a geometric run from 2^(-8/P), then every other slope of 2P."""

    def power_of_two(p: int) -> list[float]:
        start = 2.0 ** (-(2.0 ** -(math.log2(p) - 3)))  # 2^(-8/p)
        return [start * start**i for i in range(p)]

    if math.log2(n).is_integer():
        return power_of_two(n)
    p = 2 ** math.floor(math.log2(n))
    return power_of_two(p) + _get_slopes(2 * p)[0::2][: n - p]


def _future(n: int) -> torch.Tensor:
    return torch.ones(n, n, dtype=torch.bool).triu(1)  # (n, n): j > i


# --- ALiBi ---------------------------------------------------------------------------------------------------


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
    # 6 heads: the 4 slopes of 4 heads (2^-2, ..., 2^-8), then 2^-1, 2^-3 from 8 heads; not sorted
    six = [2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8, 2.0**-1, 2.0**-3]
    assert torch.allclose(alibi_slopes(6), torch.tensor(six, dtype=torch.float64), rtol=1e-15, atol=0)


@pytest.mark.parametrize("n_heads", range(1, 65))
def test_slopes_equal_the_authors_recursive_rule(n_heads):
    ref = torch.tensor(_get_slopes(n_heads), dtype=torch.float64)
    assert torch.allclose(alibi_slopes(n_heads), ref, rtol=1e-14, atol=0)


def test_bias_is_minus_slope_times_distance_below_the_diagonal():
    bias = alibi_bias(5, 2)  # slopes 1/16, 1/256
    assert bias.shape == (2, 5, 5) and bias.dtype == torch.float64
    assert bias[0, 4].tolist() == [-4 / 16, -3 / 16, -2 / 16, -1 / 16, 0.0]
    assert bias[1, 3, 1].item() == -2 / 256
    assert torch.equal(bias, bias.transpose(-1, -2))  # symmetric: -slope |i - j|


def test_bidirectional_alibi_cannot_tell_left_from_right():
    n = 9
    bias = alibi_bias(n, 4)
    for i in range(n):
        for r in range(1, n):
            if 0 <= i - r and i + r < n:  # the key r to the right and the key r to the left get the same bias
                assert torch.equal(bias[:, i, i + r], bias[:, i, i - r])
    # so a query in the middle weighs a sequence and its mirror image identically
    torch.manual_seed(0)
    logits = torch.randn(n, dtype=torch.float64)
    mid = n // 2
    w = torch.softmax(bias[0, mid] + logits, -1)
    w_mirror = torch.softmax(bias[0, mid] + logits.flip(0), -1)
    assert torch.allclose(w, w_mirror.flip(0), rtol=1e-14, atol=0)


def test_causal_alibi_masks_exactly_above_the_diagonal():
    n = 6
    full, causal = alibi_bias(n, 3), alibi_bias(n, 3, causal=True)
    future = _future(n)
    assert torch.isneginf(causal[:, future]).all()
    assert torch.isfinite(causal[:, ~future]).all()
    assert torch.equal(causal[:, ~future], full[:, ~future])
    # slopes of 3 heads: 1/16, 1/256, then 1/4; (i, j) = (1, 0) is the past, (0, 1) the future
    assert causal[2, 1, 0].item() == -1 / 4 and math.isinf(causal[2, 0, 1].item())


@pytest.mark.parametrize("n_heads", [4, 6, 12, 32])
def test_rows_equal_bloom_up_to_a_constant_so_softmax_agrees(n_heads):
    bloom = pytest.importorskip("transformers.models.bloom.modeling_bloom")
    n = 9
    ref = bloom.build_alibi_tensor(torch.ones(1, n), n_heads, torch.float64)  # (H, 1, n): slope_h * j
    ours = torch.softmax(alibi_bias(n, n_heads, causal=True), -1)
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    theirs = torch.softmax(ref.expand(n_heads, n, n).masked_fill(~causal, float("-inf")), -1)
    assert torch.allclose(alibi_slopes(n_heads), ref[:, 0, 1], rtol=1e-6, atol=0)  # BLOOM computes slopes in float32
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-6)  # so its weights carry float32 rounding


# --- KERPLE --------------------------------------------------------------------------------------------------


def test_kerple_power_and_log_closed_forms():
    power = kerple_bias(6, "power", r1=0.5, r2=1.5, causal=False)
    assert power.shape == (6, 6) and power.dtype == torch.float64
    assert power[5, 1].item() == pytest.approx(-0.5 * 4**1.5, rel=1e-15)  # -r1 |i-j|^r2 = -4
    assert power[1, 5].item() == power[5, 1].item()
    log = kerple_bias(6, "log", r1=2.0, r2=3.0, causal=False)
    assert log[4, 2].item() == pytest.approx(-2.0 * math.log(7.0), rel=1e-15)  # -r1 log(1 + r2 |i-j|)
    assert torch.equal(torch.diagonal(log), torch.zeros(6, dtype=torch.float64))
    # both decay: every step away from the diagonal lowers the bias
    assert (power[5, :5].diff() > 0).all() and (log[5, :5].diff() > 0).all()


def test_kerple_power_with_exponent_one_is_alibi():
    slope = alibi_slopes(4)[2].item()
    assert torch.allclose(kerple_bias(7, "power", slope, 1.0), alibi_bias(7, 4, causal=True)[2], rtol=0, atol=1e-15)


def test_kerple_is_causal_by_default():
    bias = kerple_bias(5, "log", 1.0, 1.0)
    future = _future(5)
    assert torch.isneginf(bias[future]).all() and torch.isfinite(bias[~future]).all()
    assert bias[3, 0].item() == pytest.approx(-math.log(4.0), rel=1e-15)


def test_kerple_log_grows_slower_than_power_at_long_range():
    # the log kernel keeps far keys within reach: at distance 1000, -log(1001) against -1000
    log, power = kerple_bias(1001, "log", 1.0, 1.0), kerple_bias(1001, "power", 1.0, 1.0)
    assert log[1000, 0].item() == pytest.approx(-math.log(1001.0), rel=1e-15)
    assert power[1000, 0].item() == -1000.0


# --- Sandwich ------------------------------------------------------------------------------------------------


def test_sandwich_equals_the_sinusoidal_dot_product():
    n, d = 40, 32
    p = sinusoidal(n, d, base=500.0)  # (n, d)
    assert torch.allclose(sandwich_bias(n, d, base=500.0), p @ p.T, rtol=RTOL, atol=1e-12)
    assert torch.allclose(
        sandwich_bias(n, d, scale=0.3), 0.3 * sinusoidal(n, d) @ sinusoidal(n, d).T, rtol=RTOL, atol=1e-12
    )


def test_sandwich_is_symmetric_toeplitz_with_d_over_2_on_the_diagonal():
    n, d = 30, 16
    bias = sandwich_bias(n, d)
    assert torch.equal(bias, bias.T)
    for r in range(-n + 1, n):  # depends on i - j only: each diagonal is constant
        diag = torch.diagonal(bias, offset=r)
        assert torch.allclose(diag, diag[:1].expand_as(diag), rtol=0, atol=1e-12)
    assert torch.allclose(torch.diagonal(bias), torch.full((n,), d / 2, dtype=torch.float64), rtol=0, atol=1e-12)


def test_sandwich_values_at_d_128():
    # sum_{k<64} cos(r 10000^(-k/64)): the catalogue's numbers (positional.md, post 9431)
    # and its check for post 9577 (lam = 0.7, m = 7, n = 3)
    bias = sandwich_bias(1001, 128)
    for r, value in [(0, 64.0), (1, 62.09), (10, 42.82), (100, 30.54), (1000, 10.18)]:
        assert bias[r, 0].item() == pytest.approx(value, abs=0.005)
    assert sandwich_bias(8, 128, scale=0.7)[7, 3].item() == pytest.approx(34.010221, abs=1e-6)
    # on average it falls with distance, with oscillation: not monotone
    row = bias[1000, :].flip(0)  # distances 0..1000
    assert row[:10].mean() > row[100:200].mean() > row[900:].mean()
    assert (row.diff() > 0).any()


def test_sandwich_heads_use_the_papers_compression_ratios():
    n, d = 12, 16
    one = sandwich_bias(n, d)
    heads = sandwich_bias(n, d, n_heads=4)  # ratios 8h/H = 2, 4, 6, 8
    assert heads.shape == (4, n, n)
    for h, ratio in enumerate([2.0, 4.0, 6.0, 8.0]):
        assert torch.allclose(heads[h], one / ratio, rtol=1e-15, atol=0)


def test_sandwich_concatenation_form_gives_the_same_logits():
    torch.manual_seed(0)
    n, e, d, lam = 11, 8, 16, 0.7
    q, k = torch.randn(2, n, e, dtype=torch.float64), torch.randn(2, n, e, dtype=torch.float64)
    qc, kc = sandwich_concat(q, d, scale=lam), sandwich_concat(k, d, scale=lam)
    assert qc.shape == (2, n, e + d) and torch.equal(qc[..., :e], q)
    expected = q @ k.transpose(-1, -2) + sandwich_bias(n, d, scale=lam)  # (2, n, n)
    assert torch.allclose(qc @ kc.transpose(-1, -2), expected, rtol=RTOL, atol=1e-12)


# --- XPOS ----------------------------------------------------------------------------------------------------


def test_xpos_zeta_matches_torchscale():
    d = 8
    zeta = (torch.arange(0, d, 2, dtype=torch.float64) + 0.4 * d) / (1.4 * d)  # torchscale's XPOS buffer
    table = xpos_scale(1025, d)
    assert table.shape == (1025, d // 2) and table.dtype == torch.float64
    assert torch.equal(table[0], torch.ones(d // 2, dtype=torch.float64))
    assert torch.allclose(table[512], zeta, rtol=1e-14, atol=0)  # m = scale_base: zeta itself
    assert torch.allclose(table[1024], zeta**2, rtol=1e-14, atol=0)
    assert table[512, 0].item() == pytest.approx(2 / 7, rel=1e-14)  # zeta_0 = gamma / (1 + gamma)
    assert (table[1:].diff(dim=-1) > 0).all()  # pair 0 (fastest rotation) decays fastest


def _xpos_reference(q, k, positions, gamma, scale_base):
    """One logit at a time: rotation matrices built by hand, zeta^(m/B) on the query, zeta^(-n/B) on the key."""
    d = q.shape[-1]
    freqs = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    zeta = (torch.arange(0, d, 2, dtype=torch.float64) / d + gamma) / (1 + gamma)
    out = torch.empty(len(positions), len(positions), dtype=torch.float64)
    for a, m in enumerate(positions):
        qm = torch.diag((zeta ** (m / scale_base)).repeat_interleave(2)) @ rotation_matrix(m, freqs) @ q[a]
        for b, n in enumerate(positions):
            kn = torch.diag((zeta ** (-n / scale_base)).repeat_interleave(2)) @ rotation_matrix(n, freqs) @ k[b]
            out[a, b] = qm @ kn
    return out


def test_xpos_logits_equal_hand_built_rotations():
    torch.manual_seed(1)
    q, k = torch.randn(6, 8, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64)
    positions = [0.0, 3.0, 7.0, 50.0, 600.0, 2000.0]
    ours = xpos_logits(q, k, positions, gamma=0.4, scale_base=512.0)
    assert torch.allclose(ours, _xpos_reference(q, k, positions, 0.4, 512.0), rtol=1e-11, atol=1e-12)


def test_xpos_closed_form_for_one_pair():
    # d = 2, q = e1, k = e2: logit (m, n) = zeta_0^((m - n)/B) sin((m - n) theta_0), theta_0 = 1
    n, gamma, b = 9, 0.4, 4.0
    q = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(n, 2)
    k = torch.tensor([[0.0, 1.0]], dtype=torch.float64).expand(n, 2)
    rel = torch.arange(n, dtype=torch.float64)[:, None] - torch.arange(n, dtype=torch.float64)  # (n, n): m - n
    expected = (gamma / (1 + gamma)) ** (rel / b) * torch.sin(rel)
    assert torch.allclose(xpos_logits(q, k, gamma=gamma, scale_base=b), expected, rtol=1e-13, atol=1e-15)


def test_xpos_depends_on_m_minus_n_only():
    torch.manual_seed(2)
    q, k = torch.randn(2, 7, 16, dtype=torch.float64), torch.randn(2, 7, 16, dtype=torch.float64)
    positions = torch.tensor([0.0, 1.0, 2.0, 5.0, 9.0, 30.0, 100.0])
    base = xpos_logits(q, k, positions)
    for c in (1.0, 137.0, 5000.0):
        shifted = xpos_logits(q, k, positions + c)
        assert torch.allclose(shifted, base, rtol=1e-10, atol=0)


def test_xpos_decays_causally_and_explodes_bidirectionally():
    n = 2049
    q = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(n, 2)
    logits = xpos_logits(q, q, scale_base=512.0)  # d = 2, theta_0 = 1: zeta_0^((m-n)/B) cos(m - n)
    # at distance 2048 = 4B: the past key is damped by zeta_0^4, the future key amplified by zeta_0^-4
    assert abs(logits[2048, 0].item()) == pytest.approx((2 / 7) ** 4 * abs(math.cos(2048.0)), rel=1e-12)
    assert abs(logits[0, 2048].item()) == pytest.approx((2 / 7) ** -4 * abs(math.cos(2048.0)), rel=1e-12)
    causal = xpos_logits(q, q, causal=True)
    future = _future(n)
    assert torch.isneginf(causal[future]).all() and torch.equal(causal[~future], logits[~future])


def test_xpos_key_factor_overflows_float32_where_computed():
    gamma, b = 0.4, 512.0
    n_star = xpos_overflow_position(gamma, b)  # first position whose key factor exceeds float32's max
    big = torch.finfo(torch.float32).max
    zeta0 = torch.tensor(gamma / (1 + gamma), dtype=torch.float64)
    assert zeta0 ** (-(n_star - 1) / b) <= big < zeta0 ** (-n_star / b)
    # the same threshold through xpos_scale (query factors; the key gets their inverse) cast to float32
    key = 1 / xpos_scale(n_star + 1, 2, gamma, b)[:, 0]  # (n_star + 1,): zeta_0^(-n/B), n = 0..n_star
    assert torch.isfinite(key[:-1].float()).all() and torch.isinf(key[-1].float())
    # it does not depend on d: zeta_0 = gamma / (1 + gamma) for every head dimension
    assert torch.isinf((1 / xpos_scale(n_star + 1, 128, gamma, b)[-1, 0]).float())
    # in float32 the logit at m = n = n_star is lost although it equals q.k exactly
    q = torch.full((1, 4), 0.25)
    assert not torch.isfinite(xpos_logits(q, q, positions=[float(n_star)])).all()
    exact = xpos_logits(q.double(), q.double(), positions=[float(n_star)])
    assert exact.item() == pytest.approx(0.25, rel=1e-10)
    # halfway there float32 is still fine
    half = xpos_logits(q, q, positions=[float(n_star // 2)])
    assert half.item() == pytest.approx(0.25, rel=1e-4)
    # a larger gamma (factors nearer 1) pushes the threshold out; float64 holds on far longer
    assert xpos_overflow_position(1.0, b) > n_star
    assert xpos_overflow_position(gamma, b, torch.float64) > 7 * n_star


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: alibi_slopes(0), "n_heads must be >= 1"),
        (lambda: alibi_bias(0, 8), "n must be >= 1"),
        (lambda: alibi_bias(4, 2.0), "n_heads must be an int"),
        (lambda: kerple_bias(4, "linear", 1.0, 1.0), "kind must be one of"),
        (lambda: kerple_bias(4, "power", 1.0, 2.5), "r2 must be in"),
        (lambda: kerple_bias(4, "power", 0.0, 1.0), "r1 must be > 0"),
        (lambda: kerple_bias(4, "log", 1.0, -1.0), "r2 must be > 0"),
        (lambda: kerple_bias(0, "log", 1.0, 1.0), "n must be >= 1"),
        (lambda: sandwich_bias(4, 7), "d must be even"),
        (lambda: sandwich_bias(4, 8, scale=-1.0), "scale must be > 0"),
        (lambda: sandwich_bias(4, 8, n_heads=0), "n_heads must be >= 1"),
        (lambda: sandwich_concat([1.0], 8), "x must be a torch.Tensor"),
        (lambda: xpos_scale(4, 8, gamma=0.0), "gamma must be > 0"),
        (lambda: xpos_scale(4, 8, scale_base=0.0), "scale_base must be > 0"),
        (lambda: xpos_scale(4, 5), "d must be even"),
        (lambda: xpos_logits(torch.ones(3, 5), torch.ones(3, 5)), "even head dimension"),
        (lambda: xpos_logits(torch.ones(3, 4), torch.ones(2, 4)), "share the length n"),
        (lambda: xpos_logits(torch.ones(3, 4), torch.ones(3, 4), positions=[0.0, 1.0]), "positions must be 1-D"),
        (
            lambda: xpos_logits(torch.ones(2, 4), torch.ones(2, 4), positions=[0.0, math.inf]),
            "positions must be finite",
        ),
        (lambda: xpos_overflow_position(dtype=torch.int32), "dtype must be a floating-point"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
