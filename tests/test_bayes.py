"""NBCE pooling: exact Naive Bayes against brute-force enumeration, the special cases, bad input."""

import itertools
import math

import pytest
import torch

from attnviz.bayes import context_entropies, nbce_log_probs, pool_log_probs


def _random_log_probs(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.log_softmax(2 * torch.randn(*shape, generator=g, dtype=dtype), -1)


def _naive_bayes_joint(V=4, M=3, n=3, seed=0):
    """Joint p(T, S_1..S_n) = p(T) prod_k p(S_k | T) as a dense tensor (V, M, ..., M)."""
    g = torch.Generator().manual_seed(seed)
    prior = torch.softmax(torch.randn(V, generator=g, dtype=torch.float64), -1)
    tables = [torch.softmax(torch.randn(V, M, generator=g, dtype=torch.float64), -1) for _ in range(n)]
    joint = prior.reshape(V, *[1] * n)
    for k, table in enumerate(tables):
        joint = joint * table.reshape(V, *[1] * k, M, *[1] * (n - k - 1))
    return joint


def test_mean_pooling_with_beta_n_minus_1_is_exact_naive_bayes():
    V, M, n = 4, 3, 3
    joint = _naive_bayes_joint(V, M, n)
    prior = joint.sum(tuple(range(1, n + 1)))  # p(T), from the joint itself
    for s in itertools.product(range(M), repeat=n):
        exact = joint[(slice(None), *s)] / joint[(slice(None), *s)].sum()
        per_context = []
        for k in range(n):  # p(T | S_k = s_k): sum out the other contexts
            others = tuple(i + 1 for i in range(n) if i != k)
            marginal = joint.sum(others)[:, s[k]]
            per_context.append((marginal / marginal.sum()).log())
        got = nbce_log_probs(torch.stack(per_context), prior.log(), beta=n - 1, pooling="mean")
        assert torch.allclose(got.exp(), exact, rtol=0, atol=1e-13)


def test_any_pooling_of_one_context_with_beta_0_returns_it():
    lp = _random_log_probs(1, 7)
    prior = _random_log_probs(7, seed=1)
    for pooling in ("mean", "max", "min_entropy"):
        assert torch.allclose(nbce_log_probs(lp, prior, beta=0.0, pooling=pooling), lp[0], rtol=0, atol=1e-14)


def test_beta_minus_1_returns_the_prior_even_with_zero_probabilities():
    lp = _random_log_probs(3, 5)
    lp[0, 2] = float("-inf")
    lp = torch.log_softmax(lp, -1)
    prior = _random_log_probs(5, seed=2)
    for pooling in ("mean", "max", "min_entropy"):
        assert torch.allclose(nbce_log_probs(lp, prior, beta=-1, pooling=pooling), prior, rtol=0, atol=1e-14)


def test_min_entropy_picks_the_sharpest_context_per_batch_row():
    lp = _random_log_probs(2, 4, 6)  # batch 2, n = 4 contexts, V = 6
    sharp = torch.log_softmax(torch.tensor([9.0, 0, 0, 0, 0, 0], dtype=torch.float64), -1)
    lp[0, 2], lp[1, 1] = sharp, sharp
    pooled = pool_log_probs(lp, "min_entropy")
    assert torch.equal(pooled[0], sharp) and torch.equal(pooled[1], sharp)
    assert context_entropies(lp).argmin(-1).tolist() == [2, 1]


def test_context_entropies_match_closed_forms():
    uniform = torch.full((1, 8), -math.log(8), dtype=torch.float64)
    one_hot = torch.log(torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64))
    assert math.isclose(float(context_entropies(uniform)), math.log(8), rel_tol=1e-14)
    assert float(context_entropies(one_hot)) == 0.0


def test_weighted_pooling_reduces_to_mean_and_to_selection():
    lp = _random_log_probs(5, 9)
    uniform = torch.full((5,), 0.2, dtype=torch.float64)
    assert torch.allclose(pool_log_probs(lp, "weighted", uniform), pool_log_probs(lp, "mean"), rtol=0, atol=1e-14)
    one_hot = torch.tensor([0, 0, 1.0, 0, 0], dtype=torch.float64)
    assert torch.allclose(pool_log_probs(lp, "weighted", one_hot), lp[2], rtol=0, atol=1e-14)


def test_weighted_pooling_ignores_zero_weight_contexts_with_zero_probabilities():
    lp = _random_log_probs(2, 3)
    lp[1] = torch.log(torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64))
    got = pool_log_probs(lp, "weighted", torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert torch.equal(got, lp[0])


def test_max_pooling_mass_lies_between_1_and_n():
    lp = _random_log_probs(6, 10)
    raw = nbce_log_probs(lp, _random_log_probs(10, seed=3), beta=0.0, pooling="max", normalize=False)
    mass = float(raw.exp().sum())
    assert 1.0 < mass < 6.0
    assert torch.allclose(raw, lp.max(0).values, rtol=0, atol=1e-15)  # beta = 0: the pooled maximum itself


def test_beta_is_a_contrast_with_the_prior():
    lp, prior = _random_log_probs(3, 5), _random_log_probs(5, seed=4)
    pooled = pool_log_probs(lp, "mean")
    raw = nbce_log_probs(lp, prior, beta=0.7, pooling="mean", normalize=False)
    assert torch.allclose(raw, pooled + 0.7 * (pooled - prior), rtol=0, atol=1e-14)


def test_float32_and_batched_prior():
    lp = _random_log_probs(2, 3, 4, dtype=torch.float32)
    prior = _random_log_probs(2, 4, seed=5, dtype=torch.float32)
    out = nbce_log_probs(lp, prior, beta=0.25)
    assert out.shape == (2, 4) and out.dtype == torch.float32
    assert torch.allclose(out.exp().sum(-1), torch.ones(2), rtol=0, atol=1e-6)  # float32


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda lp, pr: pool_log_probs(torch.randn(3, 4).double(), "mean"), "normalized log-probabilities"),
        (lambda lp, pr: pool_log_probs(lp[0], "mean"), "at least 2 dimension"),
        (lambda lp, pr: pool_log_probs(lp, "median"), "pooling must be one of"),
        (lambda lp, pr: pool_log_probs(lp, "weighted"), "exactly when pooling='weighted'"),
        (lambda lp, pr: pool_log_probs(lp, "mean", torch.ones(3).double() / 3), "exactly when"),
        (lambda lp, pr: pool_log_probs(lp, "weighted", torch.ones(4).double() / 4), "weights must have shape"),
        (lambda lp, pr: pool_log_probs(lp, "weighted", torch.tensor([2.0, -1.0, 0.0])), "non-negative"),
        (lambda lp, pr: pool_log_probs(lp, "weighted", torch.ones(3).double()), "sum to 1"),
        (lambda lp, pr: pool_log_probs(torch.full((2, 2), float("nan")), "mean"), "nan"),
        (lambda lp, pr: nbce_log_probs(lp, pr, beta=-1.5), "beta must be >= -1"),
        (lambda lp, pr: nbce_log_probs(lp, pr, beta=float("nan")), "beta must be finite"),
        (lambda lp, pr: nbce_log_probs(lp, pr[:3], beta=0.0), "log_prior must have V = 5"),
        (lambda lp, pr: nbce_log_probs(lp, pr.expand(4, 5), beta=0.0), "log_prior must broadcast"),
        (lambda lp, pr: nbce_log_probs(lp, pr * float("inf"), beta=0.0), "finite"),
        (lambda lp, pr: nbce_log_probs(lp, [0.0] * 5, beta=0.0), "torch.Tensor"),
    ],
)
def test_bad_input(call, message):
    lp, prior = _random_log_probs(3, 5), _random_log_probs(5, seed=6)
    with pytest.raises(ValueError, match=message):
        call(lp, prior)


def test_disjoint_supports_under_mean_pooling_are_an_error():
    lp = torch.log(torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="disjoint supports"):
        nbce_log_probs(lp, torch.log(torch.tensor([0.5, 0.5])).double(), beta=1.0, pooling="mean")
