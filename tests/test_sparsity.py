"""The sparsity measures of post 9595 (attnviz.sparsity.measures): reference values, closed forms, edge cases.

The axioms they satisfy are tested in test_axioms.py; the Rényi entropies they build on in test_entropy.py.
"""

import math

import pytest
import torch

from attnviz.entropy import effective_support, participation_ratio, renyi
from attnviz.sparsity import (
    KINDS,
    effective_count,
    entropy_sparsity,
    gini,
    hoyer,
    s0,
    s1p,
    sparsity,
    sparsity_from_logits,
    sparsity_index,
    sstar,
)

INF = math.inf
F64 = torch.float64


def t(values):
    return torch.tensor(values, dtype=F64)


# ------------------------------------------------------------------ reference values (spec table, 1e-6)

REFERENCE = {  # vector: S0, S*_{1,2}, Gini (the entropy columns of the table are in test_entropy.py)
    "one-hot": ([1.0, 0.0, 0.0, 0.0], [0.25, 0.5, 0.75]),
    "uniform": ([0.25] * 4, [1, 1, 0]),
    "softmax(0,1,2,3)": (None, [0.388250, 0.722169, 0.496326]),
    "halves": ([0.5, 0.25, 0.125, 0.125], [0.5, 0.852803, 0.3125]),
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_values(name):
    values, expected = REFERENCE[name]
    p = torch.softmax(torch.arange(4, dtype=F64), -1) if values is None else t(values)
    got = [s0(p), sstar(p), gini(p)]
    for value, want in zip(got, expected, strict=True):
        assert abs(float(value) - want) < 1e-6


# ------------------------------------------------------------------ closed forms and independent references


def rows(seed=0, batch=50, n=7, zeros=False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n, generator=gen, dtype=F64)
    if zeros:
        x = x * (torch.rand(batch, n, generator=gen) < 0.6)
        x[:, 0] = 1.0
    return x


def test_direct_formulas():
    x = rows(zeros=True)
    a, n = x.abs(), x.shape[-1]
    l1, l2 = a.sum(-1), a.pow(2).sum(-1).sqrt()
    assert torch.allclose(s0(x), l1 / n / a.amax(-1), rtol=0, atol=1e-14)
    assert torch.allclose(s1p(x, 3.0), l1 / n / a.pow(3).sum(-1) ** (1 / 3), rtol=0, atol=1e-14)
    power_mean = lambda r: a.pow(r).mean(-1) ** (1 / r)  # noqa: E731
    assert torch.allclose(sstar(x, p=3.0, q=0.5), power_mean(0.5) / power_mean(3.0), rtol=0, atol=1e-13)
    assert torch.allclose(hoyer(x), (n**0.5 - l1 / l2) / (n**0.5 - 1), rtol=0, atol=1e-14)
    pairs = (a[:, :, None] - a[:, None, :]).abs().sum((-1, -2))  # mean absolute difference form
    assert torch.allclose(gini(x), pairs / (2 * n * l1), rtol=0, atol=1e-14)


def test_limits_in_p_and_a_reach_s0():
    x = rows(1)
    assert torch.equal(s1p(x, INF), s0(x))
    assert torch.allclose(sstar(x, p=INF, q=1.0), s0(x), rtol=0, atol=1e-15)
    assert torch.allclose(entropy_sparsity(x, INF), s0(x), rtol=0, atol=1e-14)
    assert torch.allclose(s1p(x, 400.0), s0(x), rtol=2e-2, atol=0)  # l_p -> max as p grows


def test_entropy_links():
    x = rows(2, zeros=True)
    p, n = x.abs() / x.abs().sum(-1, keepdim=True), x.shape[-1]
    for order in (0.3, 2.0, 3.5):
        ratio = entropy_sparsity(x, order)
        assert torch.allclose(ratio, renyi(p, order).exp() / n, rtol=0, atol=1e-14)
        lo, hi = min(order, 1.0), max(order, 1.0)
        assert torch.allclose(ratio, sstar(x, p=hi, q=lo) ** (order / abs(order - 1)), rtol=0, atol=1e-13)
    assert torch.allclose(sstar(x) ** 2 * n, participation_ratio(p), rtol=0, atol=1e-12)  # S*^2 n = e^{H_2}
    assert torch.allclose(entropy_sparsity(x), effective_support(p) / n, rtol=0, atol=1e-14)
    assert torch.allclose(effective_count(x, 1.0), effective_support(p), rtol=0, atol=1e-13)
    assert torch.allclose(effective_count(x), participation_ratio(p), rtol=0, atol=1e-12)


def test_cos_identity_and_bounds():
    x = rows(4)  # Gaussian rows: no zeros
    cos = torch.cosine_similarity(torch.sign(x), x, dim=-1)
    assert torch.allclose(sstar(x), cos, rtol=0, atol=1e-14)
    for q, p in [(1.0, 2.0), (0.5, 3.0), (2.0, 5.0)]:
        n = x.shape[-1]
        low = n ** (1 / p - 1 / q)
        s = sstar(x, p=p, q=q)
        assert bool((s >= low - 1e-14).all() and (s <= 1 + 1e-14).all())
        one_hot, flat = torch.eye(n, dtype=F64), torch.ones(3, n, dtype=F64) * t([[1.0], [-2.0], [3.0]])
        assert torch.allclose(sstar(one_hot, p=p, q=q), torch.full((n,), low, dtype=F64), rtol=0, atol=1e-14)
        assert torch.allclose(sstar(flat, p=p, q=q), torch.ones(3, dtype=F64), rtol=0, atol=1e-14)


def test_signs_and_dim():
    x = rows(5, zeros=True)
    for kind in KINDS:
        assert torch.equal(sparsity(-x, kind), sparsity(x.abs(), kind))  # only magnitudes are read
        assert torch.allclose(sparsity(x.T.contiguous(), kind, dim=0), sparsity(x, kind), rtol=0, atol=1e-14)
    batch = rows(6).reshape(5, 10, 7)
    assert sparsity(batch, "gini", dim=1).shape == (5, 7)


# ------------------------------------------------------------------ edge cases

N1 = {"s0": 1.0, "s1p": 1.0, "sstar": 1.0, "hoyer": math.nan, "gini": 0.0, "entropy": 1.0, "renyi": 1.0, "count": 1.0}


@pytest.mark.parametrize("kind", KINDS)
def test_zero_rows_are_nan_and_n1_is_defined(kind):
    x = t([[0.0, 0.0, 0.0], [1.0, 0.0, 2.0]])
    out = sparsity(x, kind)
    assert math.isnan(float(out[0])) and math.isfinite(float(out[1]))
    got = float(sparsity(t([[-3.5]]), kind)[0])
    assert (math.isnan(got) and math.isnan(N1[kind])) or got == pytest.approx(N1[kind], abs=1e-15)


@pytest.mark.parametrize("kind", KINDS)
def test_extreme_magnitudes_and_half_precision(kind):
    x = t([[1e300, 3e299, 0.0, 2e298], [1e-300, 3e-301, 0.0, 2e-302]])
    ref = sparsity(x / x.abs().amax(-1, keepdim=True), kind)
    assert torch.allclose(sparsity(x, kind), ref, rtol=0, atol=1e-14)
    y = rows(7, n=16, zeros=True)
    half = sparsity(y.half(), kind)
    assert half.dtype == torch.float16
    assert torch.allclose(half.double(), sparsity(y.half().double(), kind), rtol=2e-3, atol=2e-3)


def test_logits_match_probabilities_and_mask():
    s = rows(8, batch=6, n=6) * 3
    causal = s.masked_fill(~torch.ones(6, 6, dtype=torch.bool).tril(), -INF)
    for kind, params in [("s0", {}), ("sstar", {"p": 3.0, "q": 0.5}), ("hoyer", {}), ("gini", {}), ("entropy", {})]:
        full = sparsity_from_logits(s, kind, **params)
        assert torch.allclose(full, sparsity(torch.softmax(s, -1), kind, **params), rtol=0, atol=1e-13)
        masked = sparsity_from_logits(causal, kind, **params)
        for i in range(6):  # row i is a distribution over its i + 1 visible keys
            prefix = sparsity(torch.softmax(s[i, : i + 1], -1), kind, **params)
            assert torch.allclose(masked[i], prefix, rtol=0, atol=1e-13, equal_nan=True)  # hoyer at n = 1: NaN
    assert float(sparsity_from_logits(causal, "s0")[0]) == 1.0  # one visible key


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: s0(t([1.0, math.nan])), "x must be finite"),
        (lambda: gini(t([1.0, INF])), "x must be finite"),
        (lambda: sstar(t([1.0, -INF])), "x must be finite"),
        (lambda: s0([1.0, 2.0]), "x must be a torch.Tensor"),
        (lambda: s0(torch.tensor([1, 2])), "floating-point"),
        (lambda: s0(torch.ones(2, 0)), "at least one entry"),
        (lambda: s0(torch.ones(3), dim=1), "dim must lie"),
        (lambda: s0(torch.ones(3), dim=0.0), "dim must be an int"),
        (lambda: entropy_sparsity(torch.ones(3), a=-1.0), "a must be > 0"),
        (lambda: sparsity_index([1.0, 2.0]), "x must be a torch.Tensor"),
        (lambda: sparsity_index(torch.tensor([1.0, INF])), "x must be finite"),
        (lambda: s1p(torch.ones(3), p=1.0), "p must be > 1"),
        (lambda: sstar(torch.ones(3), p=1.0, q=2.0), "p must be > 2"),
        (lambda: sstar(torch.ones(3), q=0.0), "q must be > 0"),
        (lambda: sstar(torch.ones(3), p=math.nan), "p must be a real number"),
        (lambda: sparsity(torch.ones(3), "l0"), "kind must be one of"),
        (lambda: sparsity(torch.ones(3), "gini", p=2.0), "takes no parameters"),
        (lambda: sparsity_from_logits(t([INF, 0.0]), "s0"), "nan or \\+inf"),
        (lambda: sparsity_from_logits(t([math.nan, 0.0]), "s0"), "nan or \\+inf"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_clone_factors():
    x = rows(10, batch=5, n=6)
    for k in (2, 3):
        clones = x.repeat(1, k)
        assert torch.allclose(s1p(clones), k**-0.5 * s1p(x), rtol=0, atol=1e-14)  # S_{1,2} shrinks by k^{-1/p}
        assert torch.allclose(effective_count(clones), k * effective_count(x), rtol=0, atol=1e-12)
        assert torch.allclose(sstar(clones, p=3.0, q=0.5), sstar(x, p=3.0, q=0.5), rtol=0, atol=1e-14)


def test_sparsity_index_values_and_edges():
    """Post 9889's l1/l2 index: 1/sqrt(n) one-hot, 1 flat, the catalogue value, invariances, the direct formula."""
    assert math.isclose(float(sparsity_index(torch.eye(4, dtype=F64)[0])), 0.5, rel_tol=1e-15)
    assert math.isclose(float(sparsity_index(torch.ones(7, dtype=F64))), 1.0, rel_tol=1e-15)
    p = torch.softmax(torch.arange(4.0, dtype=F64), -1)
    assert abs(float(sparsity_index(p)) - 0.722169) < 6e-7  # catalogue value for post 9595
    x = torch.randn(3, 50, generator=torch.Generator().manual_seed(1), dtype=F64)
    direct = x.abs().mean(-1) / x.square().mean(-1).sqrt()
    assert torch.allclose(sparsity_index(x), direct, rtol=1e-14, atol=0)
    assert torch.allclose(sparsity_index(-2.5 * x), sparsity_index(x), rtol=1e-14, atol=0)
    assert torch.allclose(sparsity_index(x.T, dim=0), sparsity_index(x), rtol=1e-14, atol=0)
    assert math.isclose(float(sparsity_index(torch.tensor([3.0], dtype=F64))), 1.0)
    assert torch.isnan(sparsity_index(torch.zeros(5, dtype=F64)))
