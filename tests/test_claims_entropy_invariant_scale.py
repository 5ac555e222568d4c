"""The stochastic claims of the entropy-invariant-scale chapter, re-run on ten seeds the chapter does not use.

The chapter asserts each claim on one seed. These tests repeat its computations (same attnviz functions,
same sizes, same bands) on seeds 10-19, so that a band describes the phenomenon rather than one draw.
"""

import math

import mpmath
import numpy as np
import pytest
import torch

from attnviz import toys, verify
from attnviz.attention import entropy_invariant_scale, random_keys
from attnviz.metrics import entropy, entropy_from_logits, sphere_entropy_gap
from attnviz.normalize import solve_gamma
from attnviz.random_models import needle_entropy

SEEDS = range(10, 20)
D = 64  # head dimension of the chapter's measurements
LENGTHS = [2**e for e in range(6, 18)]


@pytest.mark.parametrize("seed", SEEDS)
def test_spread_of_iid_logits_grows_with_n(seed):
    iid = torch.randn(64, 2**17, generator=verify.gen(seed), dtype=torch.float64)
    spread = [(iid[:, :n].max(-1).values - iid[:, :n].mean(-1)).mean().item() for n in (64, 1024, 16384, 2**17)]
    assert spread == sorted(spread) and spread[-1] / spread[0] > 1.5


@pytest.mark.parametrize("seed", SEEDS)
def test_unrelated_logits_are_of_size_sqrt_d(seed):
    gen = verify.gen(seed)
    for d in (16, 64, 256):
        q = random_keys(16, d, sphere=True, generator=gen)
        k = random_keys(4096, d, sphere=True, generator=gen)
        assert abs((q @ k.T).std().item() / math.sqrt(d) - 1) <= 0.03


@pytest.mark.parametrize("seed", SEEDS)
def test_a_random_dense_layer_keeps_the_norm_on_average(seed):
    gen = verify.gen(seed)
    x = 3 * torch.randn(4096, 64, generator=gen, dtype=torch.float64) + 1
    normed = torch.nn.functional.layer_norm(x, (64,), eps=0.0)
    w = torch.randn(64, 64, generator=gen, dtype=torch.float64) / 8
    after = (normed @ w.T).norm(dim=-1) / 8
    assert abs(after.mean().item() - 1) < 0.03 and 0.06 < after.std().item() < 0.12


@pytest.mark.parametrize("seed", SEEDS)
def test_angles_follow_the_sine_power_density(seed):
    gen = verify.gen(seed)
    q = random_keys(16, D, sphere=True, generator=gen)
    cos = q @ random_keys(2**17, D, sphere=True, generator=gen).T / D
    angles = torch.arccos(cos[0].clamp(-1, 1)).sort().values
    grid = torch.linspace(0, math.pi, 20001, dtype=torch.float64)
    cdf = torch.cumulative_trapezoid(torch.sin(grid) ** (D - 2), grid)
    cdf = torch.cat([torch.zeros(1, dtype=torch.float64), cdf / cdf[-1]])
    model = np.interp(angles.numpy(), grid.numpy(), cdf.numpy())
    ranks = np.arange(1, len(angles) + 1) / len(angles)
    gap = max(np.abs(model - ranks).max(), np.abs(model - ranks + 1 / len(angles)).max())
    assert gap < 2 / math.sqrt(len(angles))
    m2, se = (cos**2).mean().item(), (cos**2).std().item() / math.sqrt(cos.numel())
    for power in (D - 3, D - 2, D - 1):
        assert (abs(m2 - 1 / (power + 2)) < 4 * se) == (power == D - 2)


def _mean_field(rule):
    scale = {"standard": lambda n: 1 / 8, "log": lambda n: entropy_invariant_scale(n, D)}[rule]
    return torch.tensor([math.log(n) + sphere_entropy_gap(scale(n), D) for n in LENGTHS])


def _fitted_slope(h, log_n, n_from=4096):
    keep = torch.tensor(LENGTHS) >= n_from
    x, y = log_n[keep], h[keep]
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())


def _keys(seed):
    gen = verify.gen(seed)
    return random_keys(64, D, sphere=True, generator=gen), random_keys(2**17, D, sphere=True, generator=gen)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_entropy_against_length(seed):
    q, keys = _keys(seed)
    log_n = torch.tensor(LENGTHS, dtype=torch.float64).log()
    out = {}
    for rule in ("standard", "log"):
        rows = []
        for n in LENGTHS:
            scale = 1 / 8 if rule == "standard" else entropy_invariant_scale(n, D)
            res = needle_entropy(q, keys[:n], scale=scale, block=2**14)
            se = res.haystack.std().item() / math.sqrt(len(q))
            rows.append((res.haystack.mean().item(), se, res.entropy.mean().item(), res.weight.mean().item()))
        out[rule] = torch.tensor(rows).T  # random, se, relevant, p_star
        dev = out[rule][0] - _mean_field(rule)
        assert bool((dev[4:].abs() < 4 * out[rule][1][4:]).all())  # the chapter's mean-field check
        assert bool((dev[:4] > -4 * out[rule][1][:4]).all())
    random_std, random_log = out["standard"][0], out["log"][0]
    assert abs(_fitted_slope(random_std, log_n) - 1) <= 0.02
    assert abs(_fitted_slope(random_log, log_n) - _fitted_slope(_mean_field("log"), log_n)) <= 0.03
    assert random_log[-1] - random_log[3] > 4.0
    rel_std, rel_log, p_std, p_log = out["standard"][2], out["log"][2], out["standard"][3], out["log"][3]
    assert p_std[-1] < 0.03 and rel_std[-1] > log_n[-1] - 1
    assert bool((p_log > 0.7).all()) and p_log.max() - p_log.min() < 0.15
    assert rel_log[-1] - rel_log[3] < 0.5 and rel_std[-1] - rel_std[3] > 9
    assert _fitted_slope(rel_log, log_n) < 0.15


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_lambda_one_and_the_natural_log_scale(seed):
    q, keys = _keys(seed)
    h_one = entropy_from_logits(q @ keys.T).mean().item()
    mf_one = math.log(2**17) + sphere_entropy_gap(1.0, D)
    assert mf_one < 0 < h_one and h_one - mf_one > 2

    def leftover(s):  # log10 of the weight outside the top key
        rest = s.scatter(-1, s.argmax(-1, keepdim=True), -math.inf)
        return (torch.logsumexp(rest, -1) - torch.logsumexp(s, -1)) / math.log(10)

    for n in (20, 512, 2**17):
        s = q[:16] @ keys[:n].T
        s_rel = torch.cat([s, torch.full((16, 1), 64.0)], -1)
        assert leftover(math.log(n) / 8 * s_rel).mean().item() < -6
        assert leftover(entropy_invariant_scale(n, D) * s_rel).mean().item() > -1
        assert leftover(math.log(n) / 8 * s).mean().item() > -1.3


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_scale_that_keeps_the_entropy(seed):
    q, keys = _keys(seed)
    logits = q[:16] @ keys.T / 8
    needle = torch.full((16, 1), 8.0, dtype=torch.float64)

    def rows(n, relevant):
        s = torch.cat([logits[:, :n], needle], -1) if relevant else logits[:, :n]
        return torch.softmax(s, -1)

    solve_at = [2048, 16384, 131072]
    targets = {rel: entropy(rows(512, rel)) for rel in (False, True)}
    needed = {
        rel: [solve_gamma(rows(n, rel), targets[rel], tol=1e-6).median().item() for n in solve_at]
        for rel in (False, True)
    }
    h_512 = math.log(512) + sphere_entropy_gap(1 / 8, D)
    predicted = [
        float(mpmath.findroot(lambda m, n=n: math.log(n) + sphere_entropy_gap(float(m) / 8, D) - h_512, 2.0))
        for n in solve_at
    ]
    rule = [math.log(n) / math.log(512) for n in solve_at]
    assert all(abs(a / b - 1) <= 0.04 for a, b in zip(needed[True], rule, strict=True))
    assert all(abs(a / b - 1.02) <= 0.13 for a, b in zip(needed[False], predicted, strict=True))
    ratio_rule = [a / b for a, b in zip(needed[False], rule, strict=True)]
    assert min(ratio_rule) > 1.5 and ratio_rule[-1] > 1.9


def _toy(seeds):
    task = toys.RetrievalTask(d=32, length=64)
    lengths = [64, 128, 256, 512, 1024]

    def trained(rule, seed):
        model = toys.Retriever(task.d, {"O": "standard", "E": "entropy"}[rule], seed=seed)
        toys.fit(model, task.batch, task.loss, steps=200, lr=1e-2, seed=seed + 1)
        return model

    toy = {(r, k): task.evaluate(trained(r, k), lengths) for r in "OE" for k in seeds}
    return [{r: torch.tensor([toy[r, k][i] for k in seeds]) for r in "OE"} for i in range(3)]


@pytest.mark.slow
@pytest.mark.parametrize("first", [4 + 4 * i for i in range(10)])
def test_retrieval_toy_on_other_training_seeds(first):
    seeds = range(first, first + 4)  # the chapter trains seeds 0-3
    mse, weight, ent = _toy(seeds)
    for gain in (mse["O"] - mse["E"], weight["E"] - weight["O"]):  # > 0: E better
        beyond = gain[:, 1:].mean(1)  # per seed, averaged over n = 128...1024
        assert beyond.mean() > 2 * beyond.std() / math.sqrt(len(seeds))
        assert bool((gain[:, 1:].mean(0) > 0).all())  # ahead at every longer length
    growth_o = (ent["O"][:, -1] / ent["O"][:, 0]).mean().item()
    growth_e = (ent["E"][:, -1] / ent["E"][:, 0]).mean().item()
    assert growth_o > 5 and growth_e < growth_o / 2
    gap_64 = mse["E"][:, 0] - mse["O"][:, 0]
    assert abs(gap_64.mean().item() / mse["O"][:, 0].mean().item()) < 0.5
    assert abs((weight["O"][:, 0] - weight["E"][:, 0]).mean().item()) < 0.01
