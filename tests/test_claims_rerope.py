"""The rerope chapter's claims, re-checked away from the chapter's own draws.

Exact claims (the decoding form, the merge rule, the safe length of Leaky ReRoPE, the separability argument,
the cost) on other sizes, windows, leaks, layouts and random draws, through attnviz; the stochastic claims of
the live cells (a fixed-k Leaky ReRoPE against ReRoPE inside and past its safe length, locality) on text
samples the chapter does not use.
"""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from attnviz import lab, verify
from attnviz.extrapolation import Method
from attnviz.positions import apply_rope, rerope_positions, rerope_scores, rope_frequencies

CASES = [(40, 16, 5, None), (33, 8, 7, 2.0), (64, 32, 12, 4.5), (50, 16, 1, 16.0)]  # (n, d, w, leak)


def _qk(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    q, k = torch.randn(2, n, d, dtype=torch.float64, generator=verify.gen(seed))  # (n, d) each
    return q, k


def _one_matrix(q, k, freqs, power, layout="interleaved") -> torch.Tensor:
    """q_i^T R^power_ij k_j for every (i, j): the keys rotated per query, one product per row."""
    n, d = k.shape
    keys = apply_rope(k.expand(n, n, d), power, freqs, layout)  # (n, n, d)
    return torch.einsum("id,ijd->ij", q, keys)  # (n, n)


def _jmi(n: int) -> torch.Tensor:
    pos = torch.arange(n, dtype=torch.float64)
    return pos[None, :] - pos[:, None]  # (n, n): j - i


@pytest.mark.parametrize(("n", "d", "w", "leak"), CASES)
@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_the_decoding_form_equals_the_two_passes(n, d, w, leak, layout):
    """Cell 'decode': R^max(j-i, -w) (ReRoPE) and R^max(j-i, (j-i+w)/k - w) (Leaky) give the two-pass logits."""
    q, k = _qk(n, d, seed=n + w)
    freqs, jmi = rope_frequencies(d), _jmi(n)
    power = jmi.clamp(min=-w) if leak is None else torch.maximum(jmi, (jmi + w) / leak - w)
    one = _one_matrix(q, k, freqs, power, layout)
    two = rerope_scores(q, k, freqs, w, leak, layout)
    verify.close(f"n={n}, w={w}, leak={leak}", one.tril(), two.tril(), atol=1e-12)
    last = q[-1] @ apply_rope(k, power[-1], freqs, layout).T  # the decoding step: one query
    verify.close("last row", last, two[-1], atol=1e-12)


@pytest.mark.parametrize("w", [3, 8, 20])
def test_the_printed_sign_of_the_second_pass_misses(w):
    """Cell 'decode': with R^(+w) on the far keys the logits differ wherever i - j >= w (and equal elsewhere)."""
    n, d = 32, 16
    q, k = _qk(n, d, seed=100 + w)
    freqs, jmi = rope_frequencies(d), _jmi(n)
    printed = _one_matrix(q, k, freqs, torch.where(-jmi < w, jmi, torch.full_like(jmi, float(w))))
    gap = (printed - rerope_scores(q, k, freqs, w)).abs()  # (n, n)
    far, near = -jmi >= w, (-jmi >= 0) & (-jmi < w)  # causal entries beyond and inside the window
    assert gap[far].min() > 1e-6 and gap[near].max() < 1e-12


@pytest.mark.parametrize(("n", "d", "w", "leak"), CASES)
def test_the_merge_rule_and_the_boundary(n, d, w, leak):
    """Cell 'merge': pass one where i - j < w, pass two elsewhere; at i - j = w the two passes agree."""
    q, k = _qk(n, d, seed=7 * n + w)
    freqs, pos = rope_frequencies(d), torch.arange(n, dtype=torch.float64)
    first = apply_rope(q, pos, freqs) @ apply_rope(k, pos, freqs).T
    if leak is None:
        second = apply_rope(q, torch.full_like(pos, float(w)), freqs) @ k.T
    else:
        second = apply_rope(q, w + (pos - w) / leak, freqs) @ apply_rope(k, pos / leak, freqs).T
    dist = -_jmi(n)  # i - j
    merged = torch.where(dist < w, first, second)
    verify.close("merged vs rerope_scores", merged.tril(), rerope_scores(q, k, freqs, w, leak).tril(), atol=1e-12)
    edge = dist == w
    verify.close("passes at i - j = w", first[edge], second[edge], atol=1e-12)


@pytest.mark.parametrize(("w", "leak", "L"), [(32, 4.0, 64), (16, 3.0, 64), (128, 8.0, 512), (5, 2.0, 20)])
def test_leaky_rerope_is_safe_exactly_up_to_its_length(w, leak, L):
    """Cell 'safe-length': the largest position stays <= L - 1 while n <= w + 1 + k(L - 1 - w), not beyond."""
    n_safe = int(w + 1 + leak * (L - 1 - w))
    top = {n: rerope_positions(n, w, leak).tril().max().item() for n in (n_safe, n_safe + 1)}
    assert top[n_safe] <= L - 1 < top[n_safe + 1]


@pytest.mark.parametrize("w", [1, 4, 9])
def test_bent_positions_are_not_separable(w):
    """Cell 'one-pass': RoPE's i - j has zero mixed differences, ReRoPE's and Leaky's do not (on the causal part)."""
    n = 24
    dist = -_jmi(n)

    def mixed(p):
        return p[1:, 1:] - p[1:, :-1] - p[:-1, 1:] + p[:-1, :-1]

    causal = dist[:-1, :-1] >= 1
    assert mixed(dist)[causal].abs().max() == 0
    assert mixed(rerope_positions(n, w))[causal].abs().max() > 0
    assert mixed(rerope_positions(n, w, leak=2.0))[causal].abs().max() > 0


@pytest.mark.parametrize("n", [64, 128, 384])
def test_two_passes_cost_twice_the_products(n):
    """Cell 'cost': counted matmul FLOPs of rerope_scores are twice those of plain RoPE logits."""
    q, k = torch.randn(2, 2, n, 32, generator=verify.gen(n))  # (heads, n, d)
    freqs, pos = rope_frequencies(32), torch.arange(n, dtype=torch.float64)
    counts = []
    for passes in ("plain", "two"):
        with FlopCounterMode(display=False) as counter:
            if passes == "plain":
                apply_rope(q, pos, freqs) @ apply_rope(k, pos, freqs).mT
            else:
                rerope_scores(q, k, freqs, 16)
        counts.append(counter.get_total_flops())
    assert counts[1] == 2 * counts[0] > 0


def _text_accuracy(model, how, n: int, seed: int) -> torch.Tensor:
    res = lab.evaluate(model, how, n, "text", samples=32, batch=16, seed=seed)
    return torch.tensor(res["per_sample"]["accuracy"], dtype=torch.float64)  # (32,)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_fixed_k_matches_rerope_inside_its_length_and_drops_past_it(shipped, seed):
    """Cell 'leaky-safe' on other texts: w = 32, L = 64; k = 16 (safe to 529) vs k = 4 (safe to 157)."""
    zero = torch.zeros(32, dtype=torch.float64)
    inside = _text_accuracy(shipped, Method(rerope=32, leak=16.0), 128, seed) - _text_accuracy(
        shipped, "rerope-w32", 128, seed
    )
    assert abs(inside.mean().item()) < 0.01
    rerope = _text_accuracy(shipped, "rerope-w32", 512, seed)
    past, se = lab.paired_difference(_text_accuracy(shipped, Method(rerope=32, leak=4.0), 512, seed) - rerope, zero)
    assert past < -2 * se and past < -0.05, (past, se)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 7))
def test_the_model_leans_on_its_neighbours(shipped, seed):
    """Cell 'locality' on other texts: weight on the 16 nearest keys well above a uniform share."""
    texts = lab.text_batch(lab.corpus("test"), 32, 64, verify.gen(seed))["tokens"][:, :-1]  # (32, 64)
    with torch.no_grad():
        maps = shipped.attention_maps(texts, "rope").double()  # (layers, 32, heads, 64, 64)
    dist = -_jmi(64)
    rows = torch.arange(32, 64)
    on_near = (maps * ((dist >= 0) & (dist < 16)).double()).sum(-1)[..., rows]  # (layers, 32, heads, 32)
    excess = (on_near - 16 / (rows + 1)).mean(dim=(0, 2, 3))  # (32,)
    mean, se = lab.paired_difference(excess, torch.zeros_like(excess))
    assert mean > 2 * se and mean > 0.2, (mean, se)
