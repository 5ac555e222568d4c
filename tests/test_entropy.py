"""attnviz.entropy: Shannon and Rényi entropies against closed forms and direct formulas; masking; bad input."""

import ast
import math
from pathlib import Path

import pytest
import torch

import attnviz.entropy
from attnviz.attention import attention_weights
from attnviz.entropy import (
    effective_support,
    entropy,
    entropy_from_logits,
    entropy_with_extra_key,
    participation_ratio,
    renyi,
    renyi_from_logits,
)

INF = math.inf
F64 = torch.float64


def t(values):
    return torch.tensor(values, dtype=F64)


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_uniform_has_entropy_log_n(n):
    p = torch.full((n,), 1.0 / n, dtype=F64)
    assert math.isclose(float(entropy(p)), math.log(n), abs_tol=1e-12)
    assert math.isclose(float(effective_support(p)), n, rel_tol=1e-12)


def test_one_hot_has_entropy_zero():
    p = torch.eye(5, dtype=F64)
    assert torch.equal(entropy(p), torch.zeros(5, dtype=F64))
    assert torch.equal(effective_support(p), torch.ones(5, dtype=F64))


def test_against_direct_formula_and_dim():
    gen = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(4, 6, generator=gen, dtype=F64), dim=0)  # columns sum to 1
    assert torch.allclose(entropy(p, dim=0), -(p * p.log()).sum(0), rtol=0, atol=1e-14)


# reference values (the spec table of the sparsity chapter, 6 decimals): H, e^H, H_2, 1/sum p^2, H_inf
REFERENCE = {
    "one-hot": ([1.0, 0.0, 0.0, 0.0], [0, 1, 0, 1, 0]),
    "uniform": ([0.25] * 4, [1.386294, 4, 1.386294, 4, 1.386294]),
    "softmax(0,1,2,3)": (None, [0.947537, 2.579349, 0.735301, 2.086111, 0.440190]),
    "halves": ([0.5, 0.25, 0.125, 0.125], [1.213008, 3.363586, 1.067841, 2.909091, 0.693147]),
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_values(name):
    values, expected = REFERENCE[name]
    p = torch.softmax(torch.arange(4, dtype=F64), -1) if values is None else t(values)
    got = [entropy(p), effective_support(p), renyi(p, 2), participation_ratio(p), renyi(p, INF)]
    for value, want in zip(got, expected, strict=True):
        assert abs(float(value) - want) < 1e-6


def test_masked_logits_count_only_visible_keys():
    logits = t([[0.0, 0.0, -INF, 0.0], [5.0, -INF, -INF, -INF]])
    want = t([math.log(3), 0.0])
    assert torch.allclose(entropy_from_logits(logits), want, rtol=0, atol=1e-15)
    assert torch.allclose(entropy(torch.softmax(logits, -1)), want, rtol=0, atol=1e-15)


def test_causal_attention_entropy_and_logits_agree():
    gen = torch.Generator().manual_seed(1)
    q, k = torch.randn(6, 8, generator=gen, dtype=F64), torch.randn(6, 8, generator=gen, dtype=F64)
    w = attention_weights(q, k, causal=True)
    logits = (q @ k.T / math.sqrt(8)).masked_fill(~torch.ones(6, 6, dtype=torch.bool).tril(), -INF)
    assert torch.allclose(entropy(w), entropy_from_logits(logits), rtol=0, atol=1e-12)
    assert float(entropy(w)[0]) == 0.0  # the first query sees one key


def test_float32_long_rows_match_float64():
    s = torch.randn(3, 100_000, generator=torch.Generator().manual_seed(2))
    h32 = entropy(torch.softmax(s, -1))
    h64 = entropy(torch.softmax(s.double(), -1))
    assert h32.dtype == torch.float32
    assert torch.allclose(h32.double(), h64, rtol=0, atol=2e-5)  # float32 rounding over 1e5 terms (~3e-6)
    assert torch.allclose(entropy_from_logits(s).double(), h64, rtol=0, atol=2e-5)


def test_renyi_order_and_chain():
    gen = torch.Generator().manual_seed(3)
    p = torch.softmax(3 * torch.randn(50, 12, generator=gen, dtype=F64), -1)
    p[:5, 6:] = 0.0
    p = p / p.sum(-1, keepdim=True)
    orders = [0, 0.5, 1, 2, 3, INF]
    h = torch.stack([renyi(p, a) for a in orders])
    assert bool((h[1:] <= h[:-1] + 1e-12).all())  # non-increasing in the order
    supp, n = (p > 0).sum(-1).double(), p.shape[-1]
    chain = [torch.ones(len(p), dtype=F64), 1 / p.amax(-1), participation_ratio(p), effective_support(p), supp]
    for lo, hi in zip(chain, [*chain[1:], torch.full_like(supp, n)], strict=True):
        assert bool((lo <= hi * (1 + 1e-12)).all())
    assert torch.allclose(renyi(p, 1 + 1e-7), entropy(p), rtol=0, atol=1e-6)  # a -> 1 is Shannon
    direct = torch.log((p**3).sum(-1)) / (1 - 3)
    assert torch.allclose(renyi(p, 3), direct, rtol=0, atol=1e-13)
    assert torch.allclose(renyi(p, 0), supp.log(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("order", [0, 0.5, 1, 2, INF])
def test_renyi_from_logits(order):
    gen = torch.Generator().manual_seed(9)
    s = torch.randn(4, 5, generator=gen, dtype=F64).masked_fill(torch.eye(4, 5, dtype=torch.bool), -INF) * 4
    assert torch.allclose(renyi_from_logits(s, order), renyi(torch.softmax(s, -1), order), rtol=0, atol=1e-12)
    big = t([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    out = renyi_from_logits(big, order)
    assert bool(torch.isfinite(out).all()) and abs(float(out[1]) - math.log(3)) < 1e-12


def test_entropy_with_extra_key_matches_appending_a_logit():
    gen = torch.Generator().manual_seed(4)
    s = torch.randn(6, 50, generator=gen, dtype=F64) * 2
    extra = torch.randn(6, generator=gen, dtype=F64) * 5
    h, p = entropy_with_extra_key(torch.logsumexp(s, -1), entropy(torch.softmax(s, -1)), extra)
    full = torch.softmax(torch.cat([s, extra[:, None]], -1), -1)
    assert torch.allclose(h, entropy(full), rtol=0, atol=1e-12)
    assert torch.allclose(p, full[:, -1], rtol=0, atol=1e-14)
    zero, h0 = t(0.0), t(1.3)  # a key far below the others changes nothing; one far above takes all
    h_low, p_low = entropy_with_extra_key(zero, h0, -1e3)
    h_high, p_high = entropy_with_extra_key(zero, h0, 1e3)
    assert float(p_low) == 0.0 and math.isclose(float(h_low), 1.3, abs_tol=1e-15)
    assert float(p_high) == 1.0 and abs(float(h_high)) < 1e-12


def test_entropy_is_a_leaf_module():
    """metrics, sparsity and the rest build on attnviz.entropy, so it imports nothing of attnviz but _checks."""
    tree = ast.parse(Path(attnviz.entropy.__file__).read_text())
    local = {
        (node.module or "", tuple(a.name for a in node.names))
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0
    }
    assert local == {("", ("_checks",))}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: entropy(torch.tensor([0.5, 0.6])), "must sum to 1"),
        (lambda: entropy(torch.tensor([1.5, -0.5])), "non-negative"),
        (lambda: entropy(torch.tensor([float("nan"), 1.0])), "finite"),
        (lambda: entropy([0.5, 0.5]), "torch.Tensor"),
        (lambda: entropy(torch.ones(2, 0)), "at least one entry"),
        (lambda: entropy(torch.ones(3) / 3, dim=1), "dim must lie"),
        (lambda: entropy_from_logits(torch.tensor([float("-inf"), float("-inf")])), "every entry of some row"),
        (lambda: entropy_from_logits(torch.tensor([float("inf"), 0.0])), "nan or \\+inf"),
        (lambda: renyi(t([0.5, 0.6]), 2), "must sum to 1"),
        (lambda: renyi(t([1.5, -0.5]), 2), "non-negative"),
        (lambda: renyi(t([0.5, 0.5]), -1), "a must be > 0"),
        (lambda: renyi(t([0.5, 0.5]), math.nan), "a must be a real number"),
        (lambda: renyi_from_logits(t([-INF, -INF]), 2), "every entry of some row"),
        (lambda: participation_ratio(t([0.5, 0.6])), "must sum to 1"),
        (lambda: entropy_with_extra_key(torch.zeros(2), torch.tensor([1.0, -1.0]), 0.0), "h must be >= 0"),
        (lambda: entropy_with_extra_key(torch.zeros(2), torch.ones(2), float("nan")), "logit must be finite"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
