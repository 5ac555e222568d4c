"""attnviz.lab.model: the TinyLM and its attention under every method of the registry, on the shipped weights."""

import dataclasses
import math

import pytest
import torch

from attnviz import lab
from attnviz.attention import causal_mask, scores
from attnviz.positions import apply_rope, rerope_positions, rerope_scores, rope_frequencies

F64 = {"rtol": 1e-12, "atol": 1e-12}
CHANGED_INSIDE_L = {"rerope-w16", "rerope-w32", "rerope-w48", "rerope-w32+logn"}  # ReRoPE with w < L = 64


@pytest.fixture(scope="module")
def qk():
    gen = torch.Generator().manual_seed(2)
    return tuple(torch.randn(1, 2, 150, 32, generator=gen, dtype=torch.float64) for _ in range(2))


def rope_logits(q, k, freqs, positions):
    """Independent reference: rotate by the given positions, scale 1/sqrt(d), causal mask."""
    n = q.shape[-2]
    s = scores(apply_rope(q, positions, freqs), apply_rope(k, positions, freqs))  # (..., n, n)
    return s.masked_fill(~causal_mask(n, n), float("-inf"))


def test_the_shipped_model_is_the_chapters():
    cfg = lab.LabConfig()
    model, history = lab.load(lab.DATA_DIR / "rope.pt")
    assert model.cfg == cfg and len(history["loss"]) == cfg.steps
    assert sum(p.numel() for p in model.parameters()) == lab.load_results()["meta"]["models"]["rope"]["parameters"]


def test_plain_rope_logits_equal_rotated_scores_with_a_causal_mask(shipped, qk):
    q, k = qk
    attn = shipped.blocks[0].attn
    expected = rope_logits(q, k, rope_frequencies(32), torch.arange(150, dtype=torch.float64))
    assert torch.allclose(attn.logits(q, k, lab.method("rope")), expected, **F64)


def test_pi_is_plain_rope_at_positions_divided_by_the_factor(shipped, qk):
    q, k = qk
    factor = 150 / 64
    expected = rope_logits(q, k, rope_frequencies(32), torch.arange(150, dtype=torch.float64) / factor)
    assert torch.allclose(shipped.blocks[0].attn.logits(q, k, lab.method("pi")), expected, **F64)


def test_ntk_is_plain_rope_with_the_base_raised(shipped, qk):
    q, k = qk
    base = 10000.0 * (150 / 64) ** (32 / 30)  # b s^(d / (d - 2))
    expected = rope_logits(q, k, rope_frequencies(32, base), torch.arange(150, dtype=torch.float64))
    assert torch.allclose(shipped.blocks[0].attn.logits(q, k, lab.method("ntk")), expected, **F64)


def test_log_n_scales_row_p_by_log_of_p_plus_1_base_L(shipped, qk):
    q, k = qk
    plain = shipped.blocks[0].attn.logits(q, k, lab.method("rope"))
    seen = torch.isfinite(plain)  # (1, 2, 150, 150) the causal entries
    dagger = torch.tensor([max(1.0, math.log(p + 1) / math.log(64)) for p in range(150)], dtype=torch.float64)
    got = shipped.blocks[0].attn.logits(q, k, lab.method("rope+logn"))
    assert torch.equal(torch.isfinite(got), seen)
    assert torch.allclose(got[seen], (plain * dagger[:, None])[seen], **F64)
    trained = lab.Attention(dataclasses.replace(shipped.cfg, logn_train=True))  # log_L(p + 1), no clamp
    always = torch.tensor([math.log(p + 1) / math.log(64) for p in range(150)], dtype=torch.float64)
    got = trained.logits(q, k, lab.method("rope"))
    assert torch.allclose(got[seen], (plain * always[:, None])[seen], **F64) and float(got[0, 0, 0, 0]) == 0.0


def test_leaky_rerope_auto_keeps_relative_positions_inside_the_training_range(shipped):
    torch.manual_seed(4)
    n, w = 200, 8
    q, k = torch.randn(1, 1, n, 32, dtype=torch.float64), torch.randn(1, 1, n, 32, dtype=torch.float64)
    got = shipped.blocks[0].attn.logits(q, k, lab.Method(rerope=w, leak="auto"))
    leak = (n - 1 - w) / (64 - 1 - w)
    assert rerope_positions(n, w, leak).tril().max().item() == pytest.approx(64 - 1, rel=1e-12)
    expected = rerope_scores(q, k, rope_frequencies(32), w, leak) / math.sqrt(32)
    assert torch.allclose(got, expected.masked_fill(~causal_mask(n, n), float("-inf")), **F64)


@pytest.mark.parametrize("name", sorted(lab.METHODS))
def test_every_method_is_plain_rope_inside_the_training_length_unless_it_is_rerope_below_L(shipped, name):
    gen = torch.Generator().manual_seed(3)
    text = lab.corpus("test")
    short = lab.text_batch(text, 2, 64, gen)["tokens"][:, :-1]
    long = lab.text_batch(text, 2, 256, gen)["tokens"][:, :-1]
    with torch.no_grad():
        inside = (shipped(short, name) - shipped(short, "rope")).abs().max().item()
        beyond = (shipped(long, name) - shipped(long, "rope")).abs().max().item()
    assert (inside > 1e-3) == (name in CHANGED_INSIDE_L), inside
    assert name == "rope" or beyond > 1e-2, beyond


def test_window_and_sinks_mask():
    mask = lab.visible(6, window=2, sinks=1)
    assert mask.tolist()[5] == [True, False, False, False, True, True]
    assert mask.tolist()[1] == [True, True, False, False, False, False]
    assert torch.equal(lab.visible(5), causal_mask(5, 5))


def test_nope_model_ignores_position_methods():
    torch.manual_seed(0)
    model = lab.TinyLM(dataclasses.replace(lab.LabConfig(), position="none", d_model=32, n_heads=2)).eval()
    tokens = lab.encode("x = 1\n" * 30)[None, :]  # 180 characters, beyond train_len
    with torch.no_grad():
        assert torch.allclose(model(tokens, "rope"), model(tokens, "ntk"), rtol=0, atol=1e-6)
        assert torch.allclose(model(tokens, "rope"), model(tokens, "rerope-w16"), rtol=0, atol=1e-6)
        assert not torch.allclose(model(tokens, "rope"), model(tokens, "window"), rtol=0, atol=1e-6)


def test_attention_maps_are_causal_rows_of_probabilities(shipped):
    maps = shipped.attention_maps(lab.encode("import os\n" * 5)[None, :])
    assert maps.shape == (2, 1, 4, 50, 50)
    assert torch.allclose(maps.sum(-1), torch.ones(()), rtol=0, atol=1e-5)
    assert float(maps.triu(1).abs().max()) == 0.0


def test_bad_input_names_the_argument(shipped):
    with pytest.raises(ValueError, match="tokens"):
        shipped(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="tokens"):
        shipped(torch.full((1, 4), lab.VOCAB))
    with pytest.raises(ValueError, match="name"):
        shipped(lab.encode("x")[None, :], "alibi")
    with pytest.raises(ValueError, match="d_model"):
        lab.LabConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="position"):
        lab.LabConfig(position="t5")
    with pytest.raises(ValueError, match="train_len"):
        lab.LabConfig(train_len=8)
    with pytest.raises(ValueError, match="leak"):
        lab.Method(leak=4.0)
    with pytest.raises(ValueError, match="sinks"):
        lab.Method(sinks=4)
