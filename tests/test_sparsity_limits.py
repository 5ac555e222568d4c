"""attnviz.sparsity_limits: n -> infinity sparsity limits (closed forms vs quadrature vs sampling), decay rows.

Chapter: attention-focus. References: values computed with scipy quadrature, Gaussian and log-normal sampling.
"""

import math

import pytest
import torch

from attnviz.sparsity import sparsity_index
from attnviz.sparsity_limits import decay_sparsity, linear_sparsity_limit, row_sparsity, sparsity_limit

F64 = torch.float64


# reference values computed independently (numpy/scipy quadrature) for the catalogue of post 9889
REFERENCE = [
    ("exp", 0.0, 1.0, 0.606531),
    ("exp", 0.0, 3.0, 0.011109),
    ("relu2", 0.0, 1.0, 0.408248),
    ("relu2", 1.0, 1.0, 0.612773),
    ("relu2", -1.0, 1.0, 0.205256),
    ("relu2", -2.0, 1.0, 0.072006),
    ("relu2", -3.0, 1.0, 0.016706),
    ("relu2", -4.0, 1.0, 0.002481),
    ("relu2", 2.0, 0.5, 0.902266),
    ("relu2", 3.0, 1.0, 0.851240),
    ("relu2", 10.0, 1.0, 0.980860),
    ("identity", 0.0, 1.0, 0.797885),
    ("identity", 1.0, 1.0, 0.824933),
    ("identity", -1.0, 1.0, 0.824933),
    ("identity", 3.0, 1.0, 0.948925),
    ("identity", 2.0, 0.5, 0.970146),
]


@pytest.mark.parametrize(("f", "beta", "gamma", "expected"), REFERENCE)
def test_reference_values_closed_and_quadrature(f, beta, gamma, expected):
    closed = sparsity_limit(f, beta, gamma)
    quad = sparsity_limit(f, beta, gamma, method="quadrature")
    assert isinstance(closed, float)
    assert abs(closed - expected) < 6e-7  # the reference is rounded to 6 decimals
    assert abs(closed - quad) < 1e-12


@pytest.mark.parametrize("f", ["exp", "relu2", "identity"])
def test_closed_forms_match_quadrature_on_a_wide_grid_in_log_space(f):
    beta = torch.linspace(-40, 40, 81, dtype=F64)[:, None]
    gamma = torch.tensor([0.05, 0.3, 1.0, 2.0, 5.0], dtype=F64)
    closed = sparsity_limit(f, beta, gamma, log=True)
    quad = sparsity_limit(f, beta, gamma, log=True, method="quadrature")
    assert closed.shape == (81, 5) and bool(torch.isfinite(closed).all())
    assert ((closed - quad).abs() / closed.abs().clamp(min=1)).max() < 1e-12


def test_closed_forms_match_direct_sampling():
    eps = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=F64)
    funcs = {"exp": torch.exp, "relu2": lambda x: torch.relu(x) ** 2, "identity": lambda x: x}
    for name, f in funcs.items():
        for beta, gamma in [(0.5, 0.7), (-1.0, 1.0)]:
            a = f(beta + gamma * eps)
            sampled = float(a.abs().mean() / a.square().mean().sqrt())
            assert abs(sampled - sparsity_limit(name, beta, gamma)) < 5e-3


def test_callables_by_quadrature_match_the_named_forms():
    beta = torch.tensor([-3.0, -0.5, 0.0, 2.0], dtype=F64)
    relu2 = sparsity_limit(lambda x: torch.relu(x) ** 2, beta, 0.8)
    assert torch.allclose(relu2, sparsity_limit("relu2", beta, 0.8), rtol=1e-12, atol=0)
    absolute = sparsity_limit(torch.abs, beta, 0.8)
    assert torch.allclose(absolute, sparsity_limit("identity", beta, 0.8), rtol=1e-12, atol=0)
    cubic = sparsity_limit(lambda x: x**3, 0.0, 1.0)  # E|e|^3 / sqrt(E e^6) = 2 sqrt(2/pi) / sqrt(15)
    assert math.isclose(cubic, 2 * math.sqrt(2 / math.pi) / math.sqrt(15), rel_tol=1e-12)


def test_shapes_of_the_limits():
    gamma = torch.linspace(0.1, 4, 40, dtype=F64)
    assert torch.allclose(sparsity_limit("exp", 7.0, gamma), torch.exp(-(gamma**2) / 2), rtol=1e-14, atol=0)
    t = torch.linspace(-30, 30, 601, dtype=F64)
    s_id = sparsity_limit("identity", t, 1.0)
    assert torch.allclose(s_id, s_id.flip(0), rtol=1e-14, atol=0)  # even in beta
    assert s_id.min() == s_id[300] and math.isclose(float(s_id[300]), math.sqrt(2 / math.pi), rel_tol=1e-14)
    assert bool((s_id[301:] > s_id[300:-1]).all())  # increasing for t > 0
    s_relu = sparsity_limit("relu2", t, 1.0)
    assert bool((s_relu[1:] > s_relu[:-1]).all()) and s_relu[0] < 1e-97 and s_relu[-1] > 0.99
    assert math.isclose(sparsity_limit("relu2", 0.0, 3.0), 1 / math.sqrt(6), rel_tol=1e-14)
    assert sparsity_limit("relu2", 1e300, 1.0) == 1.0 and sparsity_limit("identity", 1e300, 1.0) == 1.0


def test_sparsity_limit_bad_input():
    with pytest.raises(ValueError, match="f must be one of"):
        sparsity_limit("softmax", 0.0, 1.0)
    with pytest.raises(ValueError, match="f must be one of"):
        sparsity_limit(3, 0.0, 1.0)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        sparsity_limit("exp", 0.0, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="method='closed'"):
        sparsity_limit(torch.abs, 0.0, 1.0, method="closed")
    with pytest.raises(ValueError, match="method must be one of"):
        sparsity_limit("exp", 0.0, 1.0, method="simpson")
    with pytest.raises(ValueError, match="points"):
        sparsity_limit("exp", 0.0, 1.0, method="quadrature", points=1)
    with pytest.raises(ValueError, match="beta must be finite"):
        sparsity_limit("exp", float("nan"), 1.0)
    with pytest.raises(ValueError, match="log must be"):
        sparsity_limit("exp", 0.0, 1.0, log="yes")


def test_row_sparsity_matches_dense_and_streams_in_log_space():
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(5, 8, generator=gen, dtype=F64), torch.randn(1000, 8, generator=gen, dtype=F64)
    s = q @ k.T  # (5, 1000)
    for name, f in {"exp": torch.exp, "relu2": lambda x: torch.relu(x) ** 2, "identity": lambda x: x}.items():
        dense = sparsity_index(f(s))
        assert torch.allclose(row_sparsity(name, q, k, block=77), dense, rtol=1e-12, atol=0)
        assert torch.allclose(row_sparsity(f, q, k), dense, rtol=1e-12, atol=0)
    assert row_sparsity("exp", q[0], k).shape == ()
    big = row_sparsity("exp", 400 * q, k)  # logits in the thousands: exp overflows, log space does not
    shifted = s * 400 - (s * 400).amax(-1, keepdim=True)
    assert bool(torch.isfinite(big).all()) and torch.allclose(big, sparsity_index(shifted.exp()), rtol=1e-12, atol=0)
    assert torch.isnan(row_sparsity("relu2", -q[:1].abs(), k.abs()))[0]  # every weight zero


def test_row_sparsity_bad_input():
    q, k = torch.randn(8, dtype=F64), torch.randn(10, 8, dtype=F64)
    with pytest.raises(ValueError, match="share the head dimension"):
        row_sparsity("exp", q[:4], k)
    with pytest.raises(ValueError, match="share a dtype"):
        row_sparsity("exp", q.float(), k)
    with pytest.raises(ValueError, match="block"):
        row_sparsity("exp", q, k, block=0)
    with pytest.raises(ValueError, match="f must be one of"):
        row_sparsity("tanh", q, k)
    with pytest.raises(ValueError, match=r"q must be \(d,\) or \(m, d\) and k \(n, d\)"):
        row_sparsity("exp", q, k[None])
    with pytest.raises(ValueError, match="k must be finite"):
        row_sparsity("exp", q, k.clone().fill_(math.inf))


def test_linear_limit_against_lognormal_sampling():
    # k = exp(z), z ~ N(m, C): mean and covariance in closed form, an independent reference
    gen = torch.Generator().manual_seed(3)
    d = 6
    L = 0.3 * torch.randn(d, d, generator=gen, dtype=F64)
    C, m = L @ L.T, 0.2 * torch.randn(d, generator=gen, dtype=F64)
    mu = torch.exp(m + C.diagonal() / 2)
    cov = mu[:, None] * mu[None, :] * torch.expm1(C)
    q = torch.rand(3, d, generator=gen, dtype=F64)
    z = m + torch.randn(400_000, d, generator=gen, dtype=F64) @ L.T
    sampled = sparsity_index(q @ z.exp().T)  # (3,)
    assert torch.allclose(sampled, linear_sparsity_limit(q, mu, cov), rtol=0, atol=2e-3)


def test_linear_limit_iid_form_and_bad_input():
    q = torch.tensor([0.2, 1.0, 0.0, 3.0], dtype=F64)
    mu_t, sigma_t = 0.7, 1.9
    expected = (1 + (sigma_t / mu_t * q.norm() / q.sum()) ** 2) ** -0.5
    got = linear_sparsity_limit(q, torch.full((4,), mu_t, dtype=F64), sigma_t**2 * torch.eye(4, dtype=F64))
    assert math.isclose(float(got), float(expected), rel_tol=1e-14)
    with pytest.raises(ValueError, match="mu must be"):
        linear_sparsity_limit(q, torch.ones(3, dtype=F64), torch.eye(4, dtype=F64))
    with pytest.raises(ValueError, match="q . mu must be > 0"):
        linear_sparsity_limit(-q, torch.ones(4, dtype=F64), torch.eye(4, dtype=F64))
    with pytest.raises(ValueError, match="semi-definite"):
        linear_sparsity_limit(q, torch.ones(4, dtype=F64), -torch.eye(4, dtype=F64))


@pytest.mark.parametrize(("lam", "n", "expected"), [(0.5, 10, 0.547188), (0.9, 100, 0.435878), (0.99, 1000, 0.446075)])
def test_decay_reference_values(lam, n, expected):
    assert abs(decay_sparsity(lam, n) - expected) < 6e-7


def test_decay_matches_the_row_itself_and_edges():
    for lam in [0.0, 0.3, 0.9, 0.999999, 1.0]:
        for n in [1, 2, 17, 500]:
            row = torch.tensor(lam, dtype=F64) ** torch.arange(n - 1, -1, -1, dtype=F64)
            assert math.isclose(decay_sparsity(lam, n), float(sparsity_index(row)), rel_tol=1e-9)
    assert decay_sparsity(1.0, 1000) == 1.0 and math.isclose(decay_sparsity(0.0, 16), 0.25, rel_tol=1e-15)
    lam = torch.tensor([0.5, 0.9, 1.0 - 1e-12], dtype=F64)[:, None]
    n = torch.tensor([10, 1000])
    out = decay_sparsity(lam, n)
    assert out.shape == (3, 2) and math.isclose(float(out[2, 1]), 1.0, abs_tol=1e-9)


def test_decay_bad_input():
    with pytest.raises(ValueError, match="lam must lie in"):
        decay_sparsity(1.5, 10)
    with pytest.raises(ValueError, match="lam must lie in"):
        decay_sparsity(-0.1, 10)
    with pytest.raises(ValueError, match="n must be"):
        decay_sparsity(0.5, 0)
    with pytest.raises(ValueError, match="n must be"):
        decay_sparsity(0.5, 2.5)
    with pytest.raises(ValueError, match="n must be"):
        decay_sparsity(0.5, torch.tensor([1.0, 2.0]))
