"""attention_weights and attention against torch's own scaled_dot_product_attention."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnviz.attention import (
    attention,
    attention_weights,
    causal_mask,
    entropy_invariant_scale,
    local_mask,
    logn_scale,
    scores,
)
from attnviz.linear import linear_attention_rnn


@pytest.fixture
def qkv():
    torch.manual_seed(0)
    shape = (2, 3, 9)  # (batch, heads, n)
    q = torch.randn(*shape, 16, dtype=torch.float64)
    k = torch.randn(*shape, 16, dtype=torch.float64)
    v = torch.randn(*shape, 5, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("scale", [None, 0.05, 1.7])
def test_matches_scaled_dot_product_attention(qkv, causal, scale):
    q, k, v = qkv
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)
    assert torch.allclose(attention(q, k, v, causal=causal, scale=scale), expected, atol=1e-12, rtol=0)


def test_cross_attention_with_different_lengths(qkv):
    q, k, v = qkv
    q = q[..., :4, :]
    assert torch.allclose(attention(q, k, v), F.scaled_dot_product_attention(q, k, v), atol=1e-12, rtol=0)


def test_scores_default_scale(qkv):
    q, k, _ = qkv
    assert torch.allclose(scores(q, k), q @ k.transpose(-1, -2) / 4.0, rtol=0, atol=1e-15)
    assert torch.equal(scores(q, k, scale=torch.tensor(0.25)), scores(q, k))  # a 0-d tensor scale


def test_softmax_rows_sum_to_one_and_causal_zeros(qkv):
    q, k, _ = qkv
    w = attention_weights(q, k, causal=True)
    assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1], dtype=w.dtype), rtol=0, atol=1e-14)
    visible = torch.ones(9, 9, dtype=torch.bool).tril()
    assert (w[..., ~visible] == 0).all() and (w[..., visible] > 0).all()


def test_relu2_is_gau_normalizer(qkv):
    q, k, _ = qkv
    s = q @ k.transpose(-1, -2) * 0.25
    assert torch.allclose(attention_weights(q, k, normalizer="relu2"), torch.relu(s) ** 2 / 9, rtol=1e-14, atol=0)
    causal = attention_weights(q, k, normalizer="relu2", causal=True)
    assert torch.allclose(causal, (torch.relu(s) ** 2 / 9).tril(), rtol=1e-14, atol=0)


def test_linear_attention_with_feature_map(qkv):
    q, k, v = qkv

    def phi(x):
        return F.elu(x) + 1

    w = attention_weights(q, k, normalizer="linear", feature_map=phi)
    sim = phi(q) @ phi(k).transpose(-1, -2)
    assert torch.allclose(w, sim / sim.sum(-1, keepdim=True), atol=1e-12, rtol=0)
    # causal linear attention equals the recurrent (RNN) form of attnviz.linear
    out = attention(q, k, v, normalizer="linear", feature_map=phi, causal=True)
    assert torch.allclose(out, linear_attention_rnn(q, k, v, phi), atol=1e-12, rtol=0)


def test_entropy_invariant_scale():
    assert math.isclose(entropy_invariant_scale(512, 64), 1 / 8)
    assert math.isclose(entropy_invariant_scale(512**2, 64, train_len=512), 2 / 8)
    n = torch.tensor([64.0, 4096.0])
    expected = torch.tensor([0.25, 0.5], dtype=torch.float64)
    assert torch.allclose(entropy_invariant_scale(n, 16, train_len=64), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda q, k, v: scores(q, k[..., :8]), "share the head dimension"),
        (lambda q, k, v: scores(q, k.float()), "share a dtype"),
        (lambda q, k, v: scores(q[0, 0, 0], k), "at least 2 dimension"),
        (lambda q, k, v: scores(q, k, scale=float("nan")), "scale must be finite"),
        (lambda q, k, v: scores(q, k, scale=torch.ones(2)), "scale must be a real number"),
        (lambda q, k, v: scores(q, k[:1, :2]), "do not broadcast"),
        (lambda q, k, v: attention(q, k, v[..., :4, :]), "one row per key"),
        (lambda q, k, v: attention(q, k, v.float()), "dtype"),
        (lambda q, k, v: attention_weights(q, k, normalizer="sparsemax"), "normalizer must be one of"),
        (lambda q, k, v: attention_weights(q, k, normalizer="linear"), "needs a feature_map"),
        (lambda q, k, v: attention_weights(q, k, normalizer="linear", feature_map=lambda x: x), "non-negative"),
        (lambda q, k, v: attention_weights(q, k, feature_map=torch.exp), "only used with normalizer='linear'"),
        (lambda q, k, v: entropy_invariant_scale(0, 64), "n must be >= 1"),
        (lambda q, k, v: entropy_invariant_scale(10, 64, train_len=1), "train_len must be >= 2"),
    ],
)
def test_bad_input_raises_clear_error(qkv, call, message):
    with pytest.raises(ValueError, match=message):
        call(*qkv)


# --- causal alignment, local masks and the log n scale ------------------------------------------------------------


@pytest.mark.parametrize("n_q, n_k", [(4, 9), (9, 4), (6, 6)])
def test_causal_alignment_is_top_left_like_torch_is_causal(n_q, n_k):
    # query i sees keys 0..i whatever n_q and n_k are (not bottom-right, where the last query sees every key)
    torch.manual_seed(5)
    q, k = torch.randn(2, n_q, 8, dtype=torch.float64), torch.randn(2, n_k, 8, dtype=torch.float64)
    eye = torch.eye(n_k, dtype=torch.float64).expand(2, n_k, n_k)  # values = identity: the output is the weights
    expected = F.scaled_dot_product_attention(q, k, eye, is_causal=True)
    assert torch.allclose(attention_weights(q, k, causal=True), expected, atol=1e-12, rtol=0)
    seen = expected[0] > 0  # (n_q, n_k): the pattern torch uses
    assert torch.equal(local_mask(n_q, n_k), seen) and torch.equal(causal_mask(n_q, n_k), seen)
    assert seen[0].tolist() == [True] + [False] * (n_k - 1)  # the first query sees only the first key


def test_local_mask_window_and_sinks():
    mask = local_mask(6, 6, window=2, sinks=1)
    assert mask.tolist()[5] == [True, False, False, False, True, True]
    assert mask.tolist()[1] == [True, True, False, False, False, False]
    i, j = torch.arange(7)[:, None], torch.arange(7)[None, :]
    assert torch.equal(local_mask(7, 7, window=3), (j <= i) & (i - j < 3))
    assert torch.equal(local_mask(5, 5), causal_mask(5, 5))
    assert torch.equal(local_mask(3, 8, window=2, sinks=2), local_mask(8, 8, window=2, sinks=2)[:3])


def test_logn_scale_values():
    got = logn_scale(torch.tensor([0.0, 62.0, 63.0, 255.0, 4095.0]), 64, clamp=False)
    expected = torch.tensor([0.0, math.log(63) / math.log(64), 1.0, 4 / 3, 2.0], dtype=torch.float64)
    assert torch.allclose(got, expected, rtol=1e-15, atol=0)
    clamped = logn_scale(torch.arange(300), 64)
    assert bool((clamped[:64] == 1).all()) and clamped[255].item() == pytest.approx(4 / 3, rel=1e-15)
    assert logn_scale(3, 4).item() == 1.0 and logn_scale([[0, 1]], 2, clamp=False).shape == (1, 2)


def test_entropy_invariant_scale_is_the_unclamped_logn_scale_over_sqrt_d():
    n = torch.tensor([1.0, 10.0, 512.0, 5000.0], dtype=torch.float64)
    expected = torch.log(n) / math.log(512) / 8  # log_512(n) / sqrt(64), written out
    assert torch.allclose(entropy_invariant_scale(n, 64), expected, rtol=1e-14, atol=0)
    assert torch.allclose(logn_scale(n - 1, 512, clamp=False) / 8, expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: local_mask(0, 4), "n_q must be >= 1"),
        (lambda: local_mask(4, 4, window=0), "window must be >= 1"),
        (lambda: local_mask(4, 4, window=2, sinks=-1), "sinks must be an int >= 0"),
        (lambda: logn_scale(torch.tensor([-1.0]), 64), "positions must be >= 0"),
        (lambda: logn_scale(torch.tensor([float("nan")]), 64), "positions must be finite"),
        (lambda: logn_scale(3, 1), "train_len must be >= 2"),
    ],
)
def test_mask_and_scale_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
