"""Entropy and effective support: closed forms, masking, and bad input."""

import math

import pytest
import torch

from attnviz.attention import attention_weights
from attnviz.metrics import effective_support, entropy, entropy_from_logits


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_uniform_has_entropy_log_n(n):
    p = torch.full((n,), 1.0 / n, dtype=torch.float64)
    assert math.isclose(float(entropy(p)), math.log(n), abs_tol=1e-12)
    assert math.isclose(float(effective_support(p)), n, rel_tol=1e-12)


def test_one_hot_has_entropy_zero():
    p = torch.eye(5, dtype=torch.float64)
    assert torch.equal(entropy(p), torch.zeros(5, dtype=torch.float64))
    assert torch.equal(effective_support(p), torch.ones(5, dtype=torch.float64))


def test_against_direct_formula_and_dim():
    torch.manual_seed(0)
    p = torch.softmax(torch.randn(4, 6, dtype=torch.float64), dim=0)  # columns sum to 1
    assert torch.allclose(entropy(p, dim=0), -(p * p.log()).sum(0))


def test_masked_logits_count_only_visible_keys():
    logits = torch.tensor([[0.0, 0.0, float("-inf"), 0.0], [5.0, float("-inf"), float("-inf"), float("-inf")]])
    assert torch.allclose(entropy_from_logits(logits), torch.tensor([math.log(3), 0.0]))
    assert torch.allclose(entropy(torch.softmax(logits, -1)), torch.tensor([math.log(3), 0.0]))


def test_causal_attention_entropy_and_logits_agree():
    torch.manual_seed(1)
    q, k = torch.randn(6, 8, dtype=torch.float64), torch.randn(6, 8, dtype=torch.float64)
    w = attention_weights(q, k, causal=True)
    logits = (q @ k.T / math.sqrt(8)).masked_fill(~torch.ones(6, 6, dtype=torch.bool).tril(), float("-inf"))
    assert torch.allclose(entropy(w), entropy_from_logits(logits), atol=1e-12)
    assert float(entropy(w)[0]) == 0.0  # the first query sees one key


def test_float32_long_rows_accepted():
    p = torch.softmax(torch.randn(3, 100_000), -1)
    assert torch.isfinite(entropy(p)).all()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: entropy(torch.tensor([0.5, 0.6])), "must sum to 1"),
        (lambda: entropy(torch.tensor([1.5, -0.5])), "non-negative"),
        (lambda: entropy(torch.tensor([float("nan"), 1.0])), "finite"),
        (lambda: entropy([0.5, 0.5]), "torch.Tensor"),
        (lambda: entropy_from_logits(torch.tensor([float("-inf"), float("-inf")])), "every entry of some row"),
        (lambda: entropy_from_logits(torch.tensor([float("inf"), 0.0])), "nan or \\+inf"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_metrics_sparsity_is_the_sparsity_module_measure():
    from attnviz import sparsity as sparsity_module
    from attnviz.metrics import sparsity

    x = torch.rand(5, 9, dtype=torch.float64)
    for kind in ("s0", "sstar", "hoyer", "gini"):
        assert torch.equal(sparsity(x, kind), sparsity_module.sparsity(x, kind))
    with pytest.raises(ValueError):
        sparsity(x, "no-such-measure")
