"""attention_weights and attention against torch's own scaled_dot_product_attention."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnviz.attention import attention, attention_weights, entropy_invariant_scale, scores


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
    assert torch.allclose(scores(q, k), q @ k.transpose(-1, -2) / 4.0)
    assert torch.equal(scores(q, k, scale=torch.tensor(0.25)), scores(q, k))  # a 0-d tensor scale


def test_softmax_rows_sum_to_one_and_causal_zeros(qkv):
    q, k, _ = qkv
    w = attention_weights(q, k, causal=True)
    assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1], dtype=w.dtype))
    visible = torch.ones(9, 9, dtype=torch.bool).tril()
    assert (w[..., ~visible] == 0).all() and (w[..., visible] > 0).all()


def test_relu2_is_gau_normalizer(qkv):
    q, k, _ = qkv
    s = q @ k.transpose(-1, -2) * 0.25
    assert torch.allclose(attention_weights(q, k, normalizer="relu2"), torch.relu(s) ** 2 / 9)
    causal = attention_weights(q, k, normalizer="relu2", causal=True)
    assert torch.allclose(causal, (torch.relu(s) ** 2 / 9).tril())


def test_linear_attention_with_feature_map(qkv):
    q, k, v = qkv

    def phi(x):
        return F.elu(x) + 1

    w = attention_weights(q, k, normalizer="linear", feature_map=phi)
    sim = phi(q) @ phi(k).transpose(-1, -2)
    assert torch.allclose(w, sim / sim.sum(-1, keepdim=True))
    # causal linear attention equals the running-sum (RNN) form
    out = attention(q, k, v, normalizer="linear", feature_map=phi, causal=True)
    fq, fk = phi(q), phi(k)
    state = torch.einsum("...jr,...jv->...jrv", fk, v).cumsum(-3)  # sum_{j<=i} phi(k_j) v_j^T
    norm = fk.cumsum(-2)
    rnn = torch.einsum("...ir,...irv->...iv", fq, state) / (fq * norm).sum(-1, keepdim=True)
    assert torch.allclose(out, rnn, atol=1e-12)


def test_entropy_invariant_scale():
    assert math.isclose(entropy_invariant_scale(512, 64), 1 / 8)
    assert math.isclose(entropy_invariant_scale(512**2, 64, train_len=512), 2 / 8)
    n = torch.tensor([64.0, 4096.0])
    assert torch.allclose(entropy_invariant_scale(n, 16, train_len=64), torch.tensor([0.25, 0.5], dtype=torch.float64))


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
