"""The chapter train-short-test-long's stochastic asserts, re-run on ten other random samples."""

import pytest
import torch

from attnviz import lab, verify


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6, 16))
def test_induction_diagonal_appears_under_rerope_only(shipped, seed):
    """Cell 'induction': layer 1, head 3 copies from 127 back under ReRoPE, twice as much as under RoPE or PI."""
    sample = lab.repeat_batch(lab.corpus("test"), 1, 256, verify.gen(seed))["tokens"][:, :-1]  # period 128
    rows = torch.arange(128, 256)
    weight = {}
    for how in ("rope", "pi", "rerope-w32"):
        maps = shipped.attention_maps(sample, how)[:, 0]  # (layers, heads, n, n)
        weight[how] = maps[1, 3, rows, rows - 127].mean().item()
    assert weight["rerope-w32"] > 2 * max(weight["rope"], weight["pi"]), weight


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 12))
def test_first_tokens_draw_less_than_a_uniform_share(shipped, seed):
    """Cell 'first-tokens': keys 0-3 get less weight than a uniform spread would give them (no sinks)."""
    texts = lab.text_batch(lab.corpus("test"), 32, 64, verify.gen(seed))["tokens"][:, :-1]  # (32, 64)
    maps = shipped.attention_maps(texts, "rope").double()  # (layers, 32, heads, 64, 64)
    rows = torch.arange(16, 64)
    excess = (maps[..., rows, :4].sum(-1) - 4 / (rows + 1)).mean(dim=(0, 2, 3))  # (32,)
    mean, se = lab.paired_difference(excess, torch.zeros_like(excess))
    assert mean < -2 * se, (mean, se)
