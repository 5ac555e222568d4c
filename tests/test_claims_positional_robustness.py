"""The positional-robustness chapter's stochastic asserts, re-run on random draws the chapter does not use.

The chapter checks each Monte Carlo claim on one seeded draw: the sampler's uniform inclusion, the mean of
sorted random positions against k (L + 1)/(N + 1) - 1, the spread of neighbouring gaps, the coverage of every
distance, the mean of Su's equal-mean positions (k N/(N - 1), not k), the Beta law's mass beyond M/2 falling
with alpha, the exponential tail e^-4, the entropy of attention rows with and without the log n scale, and
Solve Equation by enumeration. These tests repeat them on other seeds, so the verdicts describe the claims,
not one draw.
"""

import math

import pytest
import torch

from attnviz import che, verify
from attnviz.entropy import entropy_from_logits
from attnviz.positions import equal_mean_lengths, expected_sorted_positions, random_positions

SEEDS = range(20, 25)  # the chapter's cells use seeds 0 to 11


@pytest.mark.parametrize("seed", SEEDS)
def test_each_position_is_drawn_with_probability_n_over_l(seed):
    """Cell 'sampler': 20000 draws of 8 sorted distinct positions from range(64)."""
    gen = verify.gen(seed)
    draws = torch.stack([random_positions(8, 64, generator=gen) for _ in range(20000)])  # (20000, 8)
    assert bool((draws.diff(dim=-1) > 0).all())
    counts = torch.bincount(draws.flatten(), minlength=64).double()
    expect, sd = 20000 * 8 / 64, math.sqrt(20000 * 8 / 64 * (1 - 8 / 64))
    assert ((counts - expect) / sd).abs().max().item() < 4.5


@pytest.mark.parametrize("seed", SEEDS)
def test_sorted_random_positions_average_k_l_plus_1_over_n_plus_1_minus_1(seed):
    """Cells 'sorted-monte-carlo' and 'gaps': N = 64 of L = 2048, 4000 draws."""
    gen = verify.gen(seed)
    draws = torch.stack([random_positions(64, 2048, generator=gen) for _ in range(4000)]).double()  # (4000, 64)
    exact = torch.arange(1, 65, dtype=torch.float64) * 2049 / 65 - 1  # written out, not the package's
    torch.testing.assert_close(expected_sorted_positions(64, 2048), exact, rtol=0, atol=1e-12)
    z = (draws.mean(0) - exact) / (draws.std(0) / math.sqrt(4000))
    assert z.abs().max().item() < 4.5
    assert abs(draws.mean(0)[0].item() - 30.5) < 3  # the post's list starts at 0
    gaps = draws.diff(dim=-1)
    assert gaps.std().item() / gaps.mean().item() > 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_random_positions_from_256_cover_every_distance(seed):
    """Cell 'unseen-distances': 2000 training sequences of 4 to 42 tokens."""
    gen, seen = verify.gen(seed), set()
    for _ in range(2000):
        m = int(torch.randint(4, 43, (1,), generator=gen))
        p = random_positions(m, 256, generator=gen)
        seen |= set((p[:, None] - p).abs().unique().tolist())
    assert seen == set(range(256))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("law", "kw"), [("exponential", {}), ("poisson", {}), ("beta", {"M": 512, "alpha": 2.0})])
def test_equal_mean_positions_average_k_n_over_n_minus_1(seed, law, kw):
    """Cell 'equal-mean-monte-carlo': the last average position is N = 64, not N - 1 = 63."""
    n = equal_mean_lengths(64, 400_000, distribution=law, generator=verify.gen(seed), **kw)
    se = n.std().item() / math.sqrt(len(n))
    last = 63 * n.mean().item() / 63  # position k = N - 1 is (N - 1) n / (N - 1)
    assert abs(last - 64) < 4.5 * se and abs(last - 64) + 2 * se < abs(last - 63)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_beta_mass_beyond_half_the_test_length_falls_with_alpha(seed):
    """Cell 'beta-law': N = 64, M = 512, mean fixed at N; P(n > M/2) for alpha = 0.25 .. 4."""
    masses = []
    for alpha in (0.25, 0.5, 1.0, 2.0, 4.0):
        n = equal_mean_lengths(64, 100_000, distribution="beta", M=512, alpha=alpha, generator=verify.gen(seed))
        assert n.max().item() <= 512 and abs(n.mean().item() - 64) < 1.0
        masses.append((n > 256).double().mean().item())
    assert all(a > b for a, b in zip(masses, masses[1:], strict=False)) and masses[0] > 0.05, masses


@pytest.mark.parametrize("seed", SEEDS)
def test_the_exponential_length_passes_4n_with_probability_e_to_the_minus_4(seed):
    """Cell 'length-laws' (sympy there): the sampler's tail beyond 4N."""
    n = equal_mean_lengths(64, 200_000, generator=verify.gen(seed))
    p, want = (n > 256).double().mean().item(), math.exp(-4)
    assert abs(p - want) < 5 * math.sqrt(want * (1 - want) / 200_000), p


@pytest.mark.parametrize("seed", SEEDS)
def test_log_n_keeps_the_row_entropy_steadier(seed):
    """Cell 'entropy-rise': Gaussian logits of std about 2, 40 and 200 keys, scale log_40 n."""
    gen = verify.gen(seed)
    q = torch.randn(256, 16, dtype=torch.float64, generator=gen)
    k = torch.randn(200, 16, dtype=torch.float64, generator=gen)
    logits = 2 * q @ k.T / 4  # (256, 200)
    plain = [entropy_from_logits(logits[:, :n]).mean().item() for n in (40, 200)]
    scaled = [entropy_from_logits(math.log(n) / math.log(40) * logits[:, :n]).mean().item() for n in (40, 200)]
    rise_plain, rise_scaled = plain[1] - plain[0], scaled[1] - scaled[0]
    assert rise_plain > 1.0 and 0 < rise_scaled < rise_plain / 2, (rise_plain, rise_scaled)


@pytest.mark.parametrize("seed", SEEDS)
def test_solve_equation_is_solved_by_enumeration(seed):
    """Cell 'solve-by-enumeration': a digit of a Modular Arithmetic expression replaced by z."""
    gen, several = verify.gen(seed), 0
    for _ in range(400):
        n = int(torch.randint(5, 40, (1,), generator=gen))
        s = che.decode("modular_arithmetic", che.modular_arithmetic(n, gen)[0])
        digits = [i for i, c in enumerate(s) if c.isdigit()]
        i = digits[int(torch.randint(len(digits), (1,), generator=gen))]
        left = s[:i] + "z" + s[i + 1 :]
        value = eval(s, {"__builtins__": {}}) % 5  # Python's arithmetic, not attnviz.che's
        roots = [z for z in "01234" if eval(left.replace("z", z), {"__builtins__": {}}) % 5 == value]
        assert s[i] in roots
        several += len(roots) > 1
    assert 0 < several < 400
