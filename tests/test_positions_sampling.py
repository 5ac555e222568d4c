"""Random position training and Su's equal-mean variant (post 9444): samplers, closed forms, the post's numbers."""

import itertools
import math

import pytest
import torch

from attnviz.positions.sampling import (
    DISTRIBUTIONS,
    equal_mean_length_moments,
    equal_mean_lengths,
    equal_mean_positions,
    expected_sorted_positions,
    grid_positions,
    random_positions,
)

DRAWS = 20000


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _within_4_se(samples: torch.Tensor, expected: torch.Tensor) -> None:
    """Column means of ``samples`` (draws, k) lie within 4 standard errors of ``expected`` (k,)."""
    mean = samples.mean(0)
    se = samples.std(0) / math.sqrt(samples.shape[0])
    gap = (mean - expected).abs()
    assert bool((gap <= 4 * se).all()), f"worst gap {float((gap / se).max()):.2f} standard errors"


def test_random_positions_are_sorted_distinct_and_in_the_pool():
    g = _gen()
    for n, pool in [(1, 1), (5, 5), (40, 2048), (64, 100)]:
        p = random_positions(n, pool, generator=g)
        assert p.dtype == torch.int64 and p.shape == (n,)
        assert bool((p[1:] > p[:-1]).all()) and int(p.min()) >= 0 and int(p.max()) < pool
    assert torch.equal(random_positions(5, 5), torch.arange(5))  # the whole pool, in order


def test_random_positions_are_deterministic_given_the_generator():
    assert torch.equal(random_positions(40, 2048, generator=_gen(3)), random_positions(40, 2048, generator=_gen(3)))
    assert not torch.equal(random_positions(40, 2048, generator=_gen(3)), random_positions(40, 2048, generator=_gen(4)))


def test_random_positions_include_every_position_equally_often():
    n, pool, draws = 3, 10, 20000
    g = _gen(1)
    counts = torch.zeros(pool)
    for _ in range(draws):
        counts[random_positions(n, pool, generator=g)] += 1
    p = n / pool  # each position is in the draw with probability n / pool
    se = math.sqrt(p * (1 - p) / draws)
    assert bool(((counts / draws - p).abs() <= 4 * se).all())


def test_expected_sorted_positions_match_exhaustive_enumeration():
    for n, pool in [(1, 4), (3, 7), (4, 9), (5, 5)]:
        combos = torch.tensor(list(itertools.combinations(range(pool), n)), dtype=torch.float64)  # sorted already
        torch.testing.assert_close(expected_sorted_positions(n, pool), combos.mean(0), rtol=0, atol=1e-12)


def test_expected_sorted_positions_match_the_sampler_by_monte_carlo():
    n, pool = 8, 50
    g = _gen(2)
    samples = torch.stack([random_positions(n, pool, generator=g) for _ in range(DRAWS)]).double()  # (DRAWS, n)
    _within_4_se(samples, expected_sorted_positions(n, pool))


def test_the_posts_picture_of_mean_training_and_test_positions():
    # post 9444: L = 2048, N = 64, M = 512; "train ~ [0, 32, ..., 2016], test grid [0, 4, ..., 2044]"
    mean = expected_sorted_positions(64, 2048)
    assert abs(float(mean[-1]) - 2016) < 0.5  # 64 * 2049 / 65 - 1 = 2016.4
    spacing = mean[1:] - mean[:-1]
    torch.testing.assert_close(spacing, torch.full((63,), 2049 / 65, dtype=torch.float64), rtol=0, atol=1e-9)
    assert 31 < 2049 / 65 < 32  # the post rounds the spacing 31.52 to 32; the first mean is 30.5, not 0
    assert abs(float(mean[0]) - 30.52) < 0.01
    assert torch.equal(grid_positions(512, 2048), torch.arange(0, 2048, 4))
    # Su's wish: training means equal to the first N test positions, [0, 4, ..., 252], not [0, 32, ..., 2016]
    assert torch.equal(grid_positions(512, 2048)[:64], torch.arange(0, 256, 4))


def test_grid_positions_floor_when_the_pool_does_not_divide():
    assert grid_positions(3, 10).tolist() == [0, 3, 6]
    assert grid_positions(4, 4).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "kwargs",
    [{"distribution": "exponential"}, {"distribution": "poisson"}, {"distribution": "beta", "M": 512, "alpha": 2.0}],
)
def test_equal_mean_positions_have_the_posts_mean(kwargs):
    # the post: n has mean N and positions are linspace(0, 1, N) * n, so E[position k] = k N / (N - 1)
    N = 16
    g = _gen(5)
    samples = torch.stack([equal_mean_positions(N, generator=g, **kwargs) for _ in range(DRAWS)])  # (DRAWS, N)
    k = torch.arange(N, dtype=torch.float64)
    _within_4_se(samples[:, 1:], (k * N / (N - 1))[1:])
    assert bool((samples[:, 0] == 0).all())
    gaps = samples[:, 1:] - samples[:, :-1]  # evenly spaced within each draw
    torch.testing.assert_close(gaps, gaps[:, :1].expand_as(gaps), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"distribution": "exponential"},
        {"distribution": "poisson"},
        {"distribution": "beta", "M": 512, "alpha": 0.5},
        {"distribution": "beta", "M": 100, "alpha": 3.0},
    ],
)
def test_equal_mean_lengths_have_the_closed_form_mean_and_variance(kwargs):
    N = 64
    n = equal_mean_lengths(N, DRAWS, generator=_gen(6), **kwargs)
    mean, std = equal_mean_length_moments(N, **kwargs)
    assert mean == N
    assert abs(float(n.mean()) - mean) <= 4 * float(n.std()) / math.sqrt(DRAWS)
    centred = n - n.mean()
    var = float((centred**2).mean())
    se_var = math.sqrt(float((centred**4).mean() - var**2) / DRAWS)  # standard error of the sample variance
    assert abs(var - std**2) <= 4 * se_var
    assert float(n.min()) >= 0
    if kwargs["distribution"] == "beta":
        assert float(n.max()) <= kwargs["M"]


def test_the_posts_three_sigma_reach():
    # exponential: mean = std = N, so mean + 3 std = 4N; Poisson: N + 3 sqrt(N), "clearly too short"
    N = 64
    mean, std = equal_mean_length_moments(N, distribution="exponential")
    assert mean + 3 * std == 4 * N
    mean, std = equal_mean_length_moments(N, distribution="poisson")
    assert mean + 3 * std == N + 24
    # beta: alpha / (alpha + beta) = N / M; with M = 512 and alpha = 1, beta = 7
    n = equal_mean_lengths(N, DRAWS, distribution="beta", M=512, alpha=1.0, generator=_gen(7))
    assert abs(float((n / 512).mean()) - 1 / 8) <= 4 * float((n / 512).std()) / math.sqrt(DRAWS)


def test_equal_mean_is_deterministic_given_the_generator():
    for kw in [{}, {"distribution": "beta", "M": 512, "alpha": 2.0}, {"distribution": "poisson"}]:
        a = equal_mean_positions(64, generator=_gen(9), **kw)
        assert torch.equal(a, equal_mean_positions(64, generator=_gen(9), **kw))
        assert a.dtype == torch.float64 and a.shape == (64,)


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: random_positions(5, 4), "n must be <= pool"),
        (lambda: random_positions(0, 4), "n must be >= 1"),
        (lambda: random_positions(2, 0), "pool must be >= 1"),
        (lambda: random_positions(2.0, 4), "n must be an int"),
        (lambda: random_positions(2, 4, generator=0), "generator"),
        (lambda: grid_positions(3, 2), "n must be <= pool"),
        (lambda: expected_sorted_positions(3, True), "pool must be an int"),
        (lambda: equal_mean_positions(1), "N must be >= 2"),
        (lambda: equal_mean_positions(8, distribution="gamma"), "distribution must be one of"),
        (lambda: equal_mean_positions(8, distribution="beta"), "needs the test length M"),
        (lambda: equal_mean_positions(8, distribution="beta", M=8, alpha=1.0), "M must be > N"),
        (lambda: equal_mean_positions(8, distribution="beta", M=16, alpha=0.0), "alpha must be > 0"),
        (lambda: equal_mean_positions(8, M=16), "only for distribution='beta'"),
        (lambda: equal_mean_lengths(8, 0), "count must be >= 1"),
    ],
)
def test_bad_arguments_are_named(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_distributions_are_the_three_the_post_discusses():
    assert DISTRIBUTIONS == ("exponential", "beta", "poisson")
