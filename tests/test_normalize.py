"""Entropy normalization: exact targets, the power-transform family, edge cases and bad input."""

import math

import pytest
import torch

from attnviz.entropy import entropy, entropy_from_logits
from attnviz.normalize import entropy_normalize, entropy_range, power_transform, solve_gamma


def _dirichlet(rows, n, alpha, seed=0):
    torch.manual_seed(seed)
    concentration = torch.full((n,), alpha, dtype=torch.float64)
    return torch.distributions.Dirichlet(concentration).sample((rows,))  # (rows, n)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 5.0])
def test_random_targets_are_hit_to_1e_10(alpha):
    p = _dirichlet(500, 50, alpha)
    low, high = entropy_range(p)
    assert torch.equal(low, torch.zeros(500, dtype=torch.float64))  # no ties in continuous draws
    u = torch.rand(500, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    target = low + u * (high - low)
    q = entropy_normalize(p, target)
    assert (entropy(q) - target).abs().max() < 1e-10
    assert torch.allclose(q.sum(-1), torch.ones(500, dtype=torch.float64), rtol=0, atol=1e-12)


def test_parity_with_bisection_on_softmax_temperature():
    # independent reference: p = softmax(s) => p**gamma ~ softmax(gamma s); bisect gamma in Python
    s = torch.randn(40, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    p, target = torch.softmax(s, -1), 1.7
    lo, hi = 0.0, 100.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if float(entropy_from_logits(mid * s)) > target else (lo, mid)
    reference = torch.softmax(lo * s, -1)
    assert torch.allclose(entropy_normalize(p, target), reference, atol=1e-12, rtol=0)
    assert math.isclose(float(solve_gamma(p, target)), lo, rel_tol=1e-9)


def test_result_is_p_to_the_solved_power_and_keeps_order():
    p = _dirichlet(20, 30, 1.0, seed=3)
    target = torch.linspace(0.5, 3.0, 20, dtype=torch.float64)
    gamma = solve_gamma(p, target)
    q = entropy_normalize(p, target)
    direct = p ** gamma[:, None] / (p ** gamma[:, None]).sum(-1, keepdim=True)
    assert torch.allclose(q, direct, atol=1e-14, rtol=1e-10)
    assert torch.equal(p.argsort(-1), q.argsort(-1))


def test_powers_compose():
    p = _dirichlet(5, 8, 1.0, seed=4)
    assert torch.allclose(power_transform(power_transform(p, 2.5), 0.4), power_transform(p, 1.0), rtol=0, atol=1e-14)


def test_dim_and_broadcast_target():
    p = _dirichlet(24, 7, 1.0, seed=5).reshape(2, 3, 4, 7).movedim(-1, 1)  # probabilities along dim 1
    target = torch.tensor([[0.5], [1.0], [1.5]], dtype=torch.float64)  # (3, 1) -> rows (2, 3, 4)
    q = entropy_normalize(p, target, dim=1)
    assert q.shape == p.shape
    assert (entropy(q, dim=1) - target.expand(2, 3, 4)).abs().max() < 1e-10


def test_float32_input_returns_float32():
    p = _dirichlet(10, 16, 1.0, seed=6).float()
    q = entropy_normalize(p, 1.2)
    assert q.dtype == torch.float32
    assert (entropy(q.double() / q.double().sum(-1, keepdim=True)) - 1.2).abs().max() < 1e-5


def test_target_zero_is_one_hot_on_the_argmax():
    p = torch.tensor([0.1, 0.5, 0.3, 0.1], dtype=torch.float64)
    assert torch.equal(entropy_normalize(p, 0.0), torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64))
    assert float(solve_gamma(p, 0.0)) == math.inf


def test_ties_at_the_maximum_bound_the_range_below():
    p = torch.tensor([0.3, 0.3, 0.3, 0.1], dtype=torch.float64)
    low, high = entropy_range(p)
    assert math.isclose(float(low), math.log(3)) and math.isclose(float(high), math.log(4))
    q = entropy_normalize(p, math.log(3))  # the gamma -> inf limit: uniform over the tied maxima
    assert torch.allclose(q, torch.tensor([1 / 3, 1 / 3, 1 / 3, 0.0], dtype=torch.float64), rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match=r"target must lie in the reachable range.*\[1\.0986"):
        entropy_normalize(p, 0.0)
    q = entropy_normalize(p, 1.2)  # ties stay tied
    assert q[0] == q[1] == q[2] and abs(float(entropy(q)) - 1.2) < 1e-10


def test_zeros_stay_zero_and_bound_the_range_above():
    p = torch.tensor([0.5, 0.0, 0.3, 0.2, 0.0], dtype=torch.float64)
    low, high = entropy_range(p)
    assert float(low) == 0.0 and math.isclose(float(high), math.log(3))
    q = entropy_normalize(p, math.log(3))  # the gamma -> 0 limit: uniform on the support
    assert torch.allclose(q, torch.tensor([1 / 3, 0, 1 / 3, 1 / 3, 0], dtype=torch.float64), rtol=0, atol=1e-15)
    assert float(solve_gamma(p, math.log(3))) == 0.0
    q = entropy_normalize(p, 0.9)
    assert q[1] == 0 and q[4] == 0 and abs(float(entropy(q)) - 0.9) < 1e-10
    with pytest.raises(ValueError, match=r"target.*\[0, 1\.0986"):
        entropy_normalize(p, math.log(5))


def test_uniform_and_one_hot_inputs_have_a_single_reachable_entropy():
    uniform = torch.full((6,), 1 / 6, dtype=torch.float64)
    assert torch.allclose(entropy_normalize(uniform, math.log(6)), uniform, rtol=0, atol=1e-15)
    assert float(solve_gamma(uniform, math.log(6))) == 1.0
    with pytest.raises(ValueError, match="target"):
        entropy_normalize(uniform, 1.0)
    one_hot = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    assert torch.equal(entropy_normalize(one_hot, 0.0), one_hot)
    with pytest.raises(ValueError, match="target"):
        entropy_normalize(one_hot, 0.1)
    assert torch.equal(entropy_normalize(torch.ones(1, dtype=torch.float64), 0.0), torch.ones(1, dtype=torch.float64))


def test_targets_within_snap_of_the_ends_are_the_ends():
    p = _dirichlet(1, 10, 1.0, seed=7)[0]
    above = entropy_normalize(p, math.log(10) + 1e-13)
    assert torch.allclose(above, torch.full((10,), 0.1, dtype=torch.float64), rtol=0, atol=1e-15)
    below = entropy_normalize(p, -1e-13)
    assert float(below.max()) == 1.0
    with pytest.raises(ValueError, match="target"):
        entropy_normalize(p, math.log(10) + 1e-9)


@pytest.mark.parametrize("offset", [1e-9, 1e-6, 1e-3])
def test_targets_near_the_ends_converge(offset):
    p = _dirichlet(50, 100, 1.0, seed=8)
    for target in (offset, math.log(100) - offset):
        assert (entropy(entropy_normalize(p, target)) - target).abs().max() < 1e-10


def test_spec_convergence_budget():
    # 1000 Dirichlet(1) rows, n = 100, targets uniform in [0.2, 0.9] log n: |H - target| < 1e-8 in <= 8 steps
    p = _dirichlet(1000, 100, 1.0, seed=9)
    u = torch.rand(1000, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    target = (0.2 + 0.7 * u) * math.log(100)
    gamma = solve_gamma(p, target, tol=1e-8, max_iter=8)
    assert (entropy(power_transform(p, gamma)) - target).abs().max() < 1e-8


def test_not_converging_raises_runtime_error():
    p = _dirichlet(10, 100, 1.0, seed=11)
    with pytest.raises(RuntimeError, match="max_iter=1"):
        solve_gamma(p, 1e-6, max_iter=1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: entropy_normalize(torch.tensor([0.5, 0.6]), 0.5), "must sum to 1"),
        (lambda: entropy_normalize(torch.tensor([1.5, -0.5]), 0.5), "non-negative"),
        (lambda: entropy_normalize(torch.tensor([float("nan"), 1.0]), 0.5), "finite"),
        (lambda: entropy_normalize(torch.tensor([float("inf"), 0.0]), 0.5), "finite"),
        (lambda: entropy_normalize([0.5, 0.5], 0.5), "torch.Tensor"),
        (lambda: entropy_normalize(torch.tensor([1, 0]), 0.0), "floating-point"),
        (lambda: entropy_normalize(torch.zeros(2, 0), 0.0), "at least one entry"),
        (lambda: entropy_normalize(torch.tensor([0.5, 0.5]), 0.5, dim=1), "dim must lie"),
        (lambda: entropy_normalize(torch.tensor([0.5, 0.5]), float("nan")), "target must be finite"),
        (lambda: entropy_normalize(torch.tensor([0.5, 0.5]), "0.5"), "target must be a real number"),
        (lambda: entropy_normalize(torch.full((2, 2), 0.5), torch.tensor([float("nan")])), "target must not"),
        (lambda: entropy_normalize(torch.full((2, 2), 0.5), torch.zeros(3)), "target of shape"),
        (lambda: entropy_normalize(torch.tensor([0.7, 0.3]), -0.1), r"target must lie.*\[0, 0\.693"),
        (lambda: entropy_normalize(torch.tensor([0.7, 0.3]), 0.7), "target must lie"),
        (lambda: power_transform(torch.tensor([0.7, 0.3]), -1.0), "gamma must be >= 0"),
        (lambda: solve_gamma(torch.tensor([0.7, 0.3]), 0.5, max_iter=0), "max_iter"),
        (lambda: solve_gamma(torch.tensor([0.7, 0.3]), 0.5, tol=0.0), "tol"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
