"""The local-attention chapter's stochastic asserts, re-run on random draws the chapter does not use.

The chapter checks its claims on one draw each (seeded): the entropy of attention rows against length with
and without a window, the mirror symmetry of bidirectional ALiBi on random attention layers, the XPOS and
Sandwich identities on random vectors, and two measurements on the lab's shipped RoPE model (row entropy at
8L, and the loss at 2L). These tests repeat them on other seeds, so the verdicts describe the claims, not
one draw.
"""

import math

import pytest
import torch

from attnviz import lab, verify
from attnviz.attention import local_mask
from attnviz.entropy import entropy_from_logits
from attnviz.positions import alibi_bias, sandwich_bias, sandwich_concat, xpos_logits

SEEDS = range(10, 16)  # the chapter's cells use seeds 0 to 5


@pytest.mark.parametrize("seed", SEEDS)
def test_row_entropy_grows_like_log_n_without_a_window_and_stays_put_with_one(seed):
    """Cell 'entropy-random': Gaussian logits (sigma = 2) over n keys, full attention and the last 64 keys."""
    gen = verify.gen(seed)
    q = torch.randn(64, 64, dtype=torch.float64, generator=gen)
    q = 2.0 * q / q.norm(dim=-1, keepdim=True)  # (64, 64): norm sigma = 2
    logits = q @ torch.randn(16384, 64, dtype=torch.float64, generator=gen).T  # (64, 16384)
    lengths = [64, 256, 1024, 4096, 16384]
    full = [entropy_from_logits(logits[:, :n]).mean().item() for n in lengths]
    window = [entropy_from_logits(logits[:, n - 64 : n]) for n in lengths]  # (64,) each
    assert all(a < b for a, b in zip(full, full[1:], strict=False)), full
    assert abs(full[-1] - (math.log(16384) - 2.0)) < 0.05, full[-1]
    assert max(h.max().item() for h in window) <= math.log(64) + 1e-12
    means = [h.mean().item() for h in window]  # the same 64 keys for every query: noisy
    assert max(means) - min(means) < 0.1 * (full[-1] - full[0]), (means, full)


def _three_layers(x: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Three attention layers with residuals and no position encoding; (output, first layer's weights)."""
    first = None
    for Wq, Wk, Wv in weights:
        w = torch.softmax((x @ Wq) @ (x @ Wk).T / math.sqrt(x.shape[-1]) + bias, -1)  # (n, n)
        first = w if first is None else first
        x = x + w @ (x @ Wv)
    return x, first


@pytest.mark.parametrize("seed", SEEDS)
def test_bidirectional_alibi_cannot_tell_a_sequence_from_its_mirror(seed):
    """Cell 'mirror': with a symmetric ALiBi bias, mirrored input gives mirrored output and attention."""
    gen = verify.gen(seed)
    n = 21 + seed  # odd and even lengths
    x = torch.randn(n, 16, dtype=torch.float64, generator=gen)
    weights = torch.randn(3, 3, 16, 16, dtype=torch.float64, generator=gen) / 4
    flip = torch.arange(n - 1, -1, -1)
    gaps = {}
    for causal in (False, True):
        bias = alibi_bias(n, 8, causal=causal)[0]  # slope 1/2
        (y, a), (y_rev, a_rev) = _three_layers(x, weights, bias), _three_layers(x[flip], weights, bias)
        gaps[causal] = max((y_rev - y[flip]).abs().max().item(), (a_rev - a[flip][:, flip]).abs().max().item())
    assert gaps[False] < 1e-12 and gaps[True] > 0.1, gaps


@pytest.mark.parametrize("seed", SEEDS)
def test_sandwich_is_one_dot_product_of_longer_vectors(seed):
    """Cell 'sandwich-concat': [q, sqrt(lam) p] . [k, sqrt(lam) p] = q . k + lam p . p, for random q, k, lam."""
    gen = verify.gen(seed)
    q, k = torch.randn(2, 96, 16, dtype=torch.float64, generator=gen)
    lam = 0.1 + torch.rand(1, dtype=torch.float64, generator=gen).item()
    joined = sandwich_concat(q, 64, scale=lam) @ sandwich_concat(k, 64, scale=lam).T  # (96, 96)
    positions = torch.arange(96, dtype=torch.float64)
    theta = 10000.0 ** (-torch.arange(0, 64, 2, dtype=torch.float64) / 64)  # (32,)
    by_hand = lam * torch.cos((positions[:, None, None] - positions[None, :, None]) * theta).sum(-1)  # (96, 96)
    torch.testing.assert_close(sandwich_bias(96, 64, scale=lam), by_hand, rtol=0, atol=1e-11)
    torch.testing.assert_close(joined, q @ k.T + by_hand, rtol=0, atol=1e-11)


@pytest.mark.parametrize("seed", SEEDS)
def test_xpos_logit_depends_on_the_distance_only(seed):
    """Cell 'xpos-shift': the same pair of vectors seven positions apart, anywhere up to 20000, one logit."""
    gen = verify.gen(seed)
    q, k = torch.randn(2, 2, 64, dtype=torch.float64, generator=gen)
    starts = torch.randint(0, 20000, (4,), generator=gen).tolist()
    logits = torch.stack([xpos_logits(q, k, [s, s + 7])[1, 0] for s in starts])
    torch.testing.assert_close(logits, logits[:1].expand(4), rtol=1e-10, atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 9))
def test_the_lab_model_spreads_its_attention_at_8l_unless_windowed(shipped, seed):
    """Cell 'entropy-lab': row entropy of queries 448-511 against 32-63, full attention and a window of 64."""
    texts = lab.text_batch(lab.corpus("test"), 4, 512, verify.gen(seed))["tokens"][:, :-1]  # (4, 512)
    rise = {}
    for how in ("rope", "window"):
        maps = shipped.attention_maps(texts, how).double()  # (layers, 4, heads, 512, 512)
        rows = -(maps * torch.where(maps > 0, maps.clamp_min(1e-300).log(), 0.0)).sum(-1)
        rise[how] = rows[..., 448:].mean().item() - rows[..., 32:64].mean().item()
    assert rise["rope"] > 1.0 and abs(rise["window"]) < 0.25, rise
    assert bool(local_mask(512, 512, 64).sum(-1).max() == 64)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2000, 2004))
def test_ropes_loss_holds_at_1_2_l_and_is_clearly_higher_at_2_l(shipped, seed):
    """Cell 'rope-sweep' on 64 other held-out texts per length (independent samples): 1.2L within the noise of L,
    2L more than two standard errors above it."""
    loss = {
        n: torch.tensor(lab.evaluate(shipped, "rope", n, "text", samples=64, batch=16, seed=seed)["per_sample"]["loss"])
        for n in (64, 77, 128)
    }

    def above_l(n: int) -> tuple[float, float]:
        diff = (loss[n].mean() - loss[64].mean()).item()
        return diff, math.sqrt(loss[n].var().item() / 64 + loss[64].var().item() / 64)

    (d77, se77), (d128, se128) = above_l(77), above_l(128)
    assert abs(d77) <= 2 * se77, (d77, se77)
    assert d128 > 2 * se128, (d128, se128)
