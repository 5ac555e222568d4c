"""attnviz.random_models: key models, the needle among random keys, the sphere entropy gap, JL distortion.

Chapters: entropy-invariant-scale, entropy-jl-lemma. References: the materialised float64 softmax
with the needle appended as one more key, a Bessel-function closed form in mpmath, post 7695's table.
"""

import math

import mpmath as mp
import pytest
import torch

from attnviz.random_models import (
    needle_entropy,
    random_keys,
    random_projection_distortion,
    sphere_entropy_gap,
    to_sphere,
)

F64 = torch.float64


def test_random_keys():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    k = random_keys(20_000, 16, generator=g1)
    assert k.shape == (20_000, 16) and k.dtype == F64
    assert torch.equal(k, random_keys(20_000, 16, generator=g2))
    assert abs(float(k.mean())) < 0.01 and abs(float(k.var()) - 1) < 0.01
    s = random_keys(1000, 16, sphere=True, generator=g1, dtype=torch.float32)
    assert s.dtype == torch.float32 and torch.allclose(s.norm(dim=-1), torch.full((1000,), 4.0), rtol=0, atol=1e-5)


def test_spherical_keys_are_the_gaussian_draw_rescaled():
    gauss = random_keys(50, 8, generator=torch.Generator().manual_seed(1))
    sphere = random_keys(50, 8, sphere=True, generator=torch.Generator().manual_seed(1))
    cos = torch.cosine_similarity(gauss, sphere, dim=-1)
    assert torch.allclose(cos, torch.ones(50, dtype=F64), rtol=0, atol=1e-15)  # same directions
    assert torch.allclose(sphere.norm(dim=-1), torch.full((50,), math.sqrt(8), dtype=F64), rtol=0, atol=1e-14)


def test_to_sphere_keeps_the_first_d_coordinates():
    x = torch.randn(6, 20, generator=torch.Generator().manual_seed(2), dtype=F64)
    y = to_sphere(x, 5)
    assert y.shape == (6, 5)
    assert torch.allclose(y.norm(dim=-1), torch.full((6,), math.sqrt(5), dtype=F64), rtol=0, atol=1e-14)
    assert torch.allclose(y / x[:, :5], (y[:, :1] / x[:, :1]).expand(6, 5), rtol=1e-14, atol=0)  # one factor a row
    assert torch.allclose(to_sphere(x), to_sphere(x, 20), rtol=0, atol=0)


def _dense_needle(q, keys, scale):
    """Entropy and needle weight from softmax over [keys; q] materialised in float64."""
    s = scale * q @ keys.T  # (n_q, n)
    s = torch.cat([s, scale * (q * q).sum(-1, keepdim=True)], -1)  # (n_q, n + 1), the needle last
    p = torch.softmax(s, -1)
    return torch.special.entr(p).sum(-1), p[:, -1], torch.special.entr(torch.softmax(s[:, :-1], -1)).sum(-1)


@pytest.mark.parametrize("scale", [None, 0.05, 0.4])
def test_needle_entropy_matches_the_materialised_softmax(scale):
    gen = torch.Generator().manual_seed(3)
    q = to_sphere(torch.randn(5, 32, generator=gen, dtype=F64))
    keys = random_keys(3000, 32, sphere=True, generator=gen)
    got = needle_entropy(q, keys, scale=scale, block=700)
    want = _dense_needle(q, keys, 1 / math.sqrt(32) if scale is None else scale)
    for name, value, ref in zip(("entropy", "weight", "haystack"), got, want, strict=True):
        assert torch.allclose(value, ref, rtol=0, atol=1e-12), name
    assert got.weight is got[1]


def test_needle_weight_grows_with_scale_and_an_explicit_needle():
    gen = torch.Generator().manual_seed(4)
    q, keys = to_sphere(torch.randn(8, 16, generator=gen, dtype=F64)), random_keys(500, 16, sphere=True, generator=gen)
    weights = [float(needle_entropy(q, keys, scale=s).weight.mean()) for s in (0.1, 0.3, 1.0, 3.0)]
    assert all(a < b for a, b in zip(weights, weights[1:], strict=False))  # cos = 1 beats every other key
    assert weights[0] < 0.01 and weights[-1] > 0.99
    far = needle_entropy(q, keys, scale=0.3, needle=-q)  # the antipode: logit -d s
    assert float(far.weight.max()) < 1e-3 and torch.allclose(far.entropy, far.haystack, rtol=0, atol=1e-2)


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


def test_random_projection_distortion():
    x = torch.randn(300, 200, generator=torch.Generator().manual_seed(6), dtype=F64)
    ratios = random_projection_distortion(x, 50, generator=torch.Generator().manual_seed(0))
    assert ratios.shape == (300 * 299 // 2,)
    assert abs(float(ratios.mean()) - 1) < 0.03 and abs(float(ratios.var()) - 2 / 50) < 0.01  # chi2_k / k
    again = random_projection_distortion(3 * x + 1, 50, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ratios, again, rtol=1e-12, atol=0)  # invariant to scaling and translating the points
    wide = random_projection_distortion(x, 5000, generator=torch.Generator().manual_seed(0))
    assert float((wide - 1).abs().max()) < float((ratios - 1).abs().max())  # more dimensions, less distortion


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sphere_entropy_gap(1.0, 1), "d must be >= 2"),
        (lambda: sphere_entropy_gap(float("inf"), 8), "lam must be finite"),
        (lambda: sphere_entropy_gap(1.0, 8, points=2), "points must be >= 3"),
        (lambda: random_keys(0, 8), "n must be >= 1"),
        (lambda: random_keys(5, 8, sphere="yes"), "sphere must be True or False"),
        (lambda: random_keys(5, 8, dtype=torch.int64), "dtype must be a floating-point"),
        (lambda: random_keys(5, 8, generator=0), "generator must be a torch.Generator"),
        (lambda: to_sphere(torch.ones(2, 3), 4), "d must be <= the 3"),
        (lambda: to_sphere(torch.zeros(2, 3)), "no direction"),
        (lambda: to_sphere([1.0, 2.0]), "x must be a torch.Tensor"),
        (lambda: needle_entropy(torch.ones(2, 4), torch.ones(3, 4), needle=torch.ones(3)), "needle must have"),
        (lambda: needle_entropy(torch.ones(2, 4), torch.ones(3, 5)), "share the head dimension"),
        (lambda: random_projection_distortion(torch.zeros(3, 4), 2), "repeated points"),
        (lambda: random_projection_distortion(torch.randn(1, 4), 2), "n >= 2 points"),
        (lambda: random_projection_distortion(torch.randn(5, 4), 0), "k must be >= 1"),
        (lambda: random_projection_distortion(torch.randn(5, 4), 2, generator=1), "generator must be"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
