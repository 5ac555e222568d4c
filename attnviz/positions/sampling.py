"""Random position training: sorted positions drawn from a larger pool, and Su's equal-mean variant (post 9444).

Training length N, test length M, pool L > M. Random position training (Ruoss et al. 2023) gives a length-N
sequence the positions of N distinct draws from range(L), sorted; at test time the positions are random the same
way or a uniform grid over the pool. Su's equal-mean variant draws a length n with mean N on [0, inf) and puts N
evenly spaced, real-valued positions on [0, n] (so only functional encodings such as sinusoids or RoPE apply).
"""

from __future__ import annotations

import math

import torch

from .. import _checks

DISTRIBUTIONS = ("exponential", "beta", "poisson")


def _count_in_pool(n: object, pool: object) -> tuple[int, int]:
    """Check that ``n`` and ``pool`` are ints with 1 <= n <= pool."""
    _checks.positive_int("n", n)
    _checks.positive_int("pool", pool)
    if n > pool:
        raise ValueError(f"n must be <= pool (n distinct positions from range(pool)), got n = {n}, pool = {pool}")
    return n, pool


def random_positions(n: int, pool: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """n sorted distinct positions (n,), int64, drawn uniformly from range(pool). Chapter: positional-robustness."""
    _count_in_pool(n, pool)
    _checks.generator(generator)
    drawn = torch.randperm(pool, generator=generator)[:n]  # (n,): the first n of a uniform permutation
    return drawn.sort().values  # (n,)


def grid_positions(n: int, pool: int) -> torch.Tensor:
    """n evenly spaced positions (n,), int64, floor(k pool / n) for k < n: the test-time grid.
    Chapter: positional-robustness."""
    _count_in_pool(n, pool)
    return torch.arange(n, dtype=torch.int64) * pool // n  # (n,): n = 512, pool = 2048 gives 0, 4, ..., 2044


def expected_sorted_positions(n: int, pool: int) -> torch.Tensor:
    """E[k-th smallest] (n,), float64, of n distinct draws from range(pool): k (pool+1)/(n+1) - 1.
    Chapter: positional-robustness.

    Drawing n of {1, ..., N} without replacement, the n values cut the N - n others into n + 1 gaps that are
    exchangeable, so each gap holds (N - n)/(n + 1) on average and the k-th value sits at k + k (N - n)/(n + 1)
    = k (N + 1)/(n + 1); shifting to {0, ..., N - 1} subtracts 1.
    """
    _count_in_pool(n, pool)
    k = torch.arange(1, n + 1, dtype=torch.float64)  # (n,)
    return k * (pool + 1) / (n + 1) - 1  # (n,)


def _equal_mean_args(N: object, distribution: object, M: object, alpha: object) -> tuple[float, float]:
    """Check the equal-mean arguments; return (alpha, beta) for the Beta case, else (nan, nan)."""
    _checks.positive_int("N", N)
    if N < 2:
        raise ValueError(f"N must be >= 2 (N evenly spaced points from 0 to n), got {N}")
    _checks.choice("distribution", distribution, DISTRIBUTIONS)
    if distribution != "beta":
        if M is not None or alpha is not None:
            raise ValueError(f"M and alpha are only for distribution='beta', got M = {M!r}, alpha = {alpha!r}")
        return math.nan, math.nan
    if M is None or alpha is None:
        raise ValueError("distribution='beta' needs the test length M and the Beta shape alpha")
    _checks.positive_int("M", M)
    if M <= N:
        raise ValueError(f"M must be > N (the mean of n / M is N / M < 1), got M = {M}, N = {N}")
    a = _checks.real_number("alpha", alpha, positive=True)
    return a, a * (M - N) / N  # alpha / (alpha + beta) = N / M


def equal_mean_lengths(
    N: int,
    count: int,
    *,
    distribution: str = "exponential",
    M: int | None = None,
    alpha: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``count`` draws (count,), float64, of the length n, whose mean is the training length N.
    Chapter: positional-robustness.

    exponential: n ~ Exp(mean N), so std = N and mean + 3 std = 4N; poisson: n ~ Poisson(N), mean + 3 std =
    N + 3 sqrt(N) (the post rejects it as too short); beta: n = M b with b ~ Beta(alpha, beta), beta chosen so
    that alpha / (alpha + beta) = N / M, i.e. beta = alpha (M - N) / N, with the test length M scaled to 1.
    """
    a, b = _equal_mean_args(N, distribution, M, alpha)
    _checks.positive_int("count", count)
    _checks.generator(generator)
    if distribution == "exponential":
        return torch.empty(count, dtype=torch.float64).exponential_(1.0 / N, generator=generator)  # (count,)
    if distribution == "poisson":
        return torch.poisson(torch.full((count,), float(N), dtype=torch.float64), generator=generator)  # (count,)
    x = torch._standard_gamma(torch.full((count,), a, dtype=torch.float64), generator=generator)  # (count,)
    y = torch._standard_gamma(torch.full((count,), b, dtype=torch.float64), generator=generator)  # (count,)
    return M * x / (x + y)  # (count,): M times a Beta(alpha, beta) draw


def equal_mean_length_moments(
    N: int, *, distribution: str = "exponential", M: int | None = None, alpha: float | None = None
) -> tuple[float, float]:
    """(mean, std) of the equal-mean length n. Chapter: positional-robustness.

    exponential (N, N); poisson (N, sqrt N); beta (N, M sqrt(a b / ((a + b)^2 (a + b + 1)))), a = alpha, b = beta.
    """
    a, b = _equal_mean_args(N, distribution, M, alpha)
    if distribution == "exponential":
        return float(N), float(N)
    if distribution == "poisson":
        return float(N), math.sqrt(N)
    return float(N), M * math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))


def equal_mean_positions(
    N: int,
    *,
    distribution: str = "exponential",
    M: int | None = None,
    alpha: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Su's equal-mean positions (N,), float64: linspace(0, 1, N) * n for one draw of n. Chapter: positional-robustness.

    E[position k] = k N / (N - 1): close to the first N test positions 0, 1, ..., N - 1 (post 9444).
    """
    n = equal_mean_lengths(N, 1, distribution=distribution, M=M, alpha=alpha, generator=generator)  # (1,)
    return torch.linspace(0.0, 1.0, N, dtype=torch.float64) * n  # (N,)
