"""linear: the quadratic, recurrent and chunked forms agree with each other and with attention(normalizer="linear")."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnviz import linear
from attnviz.attention import attention
from attnviz.positions import rope_frequencies, rotation_matrix

ATOL = 1e-12  # float64 throughout


def qkv(n_q, n_k, d=8, d_v=5, batch=(2, 3), seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, n_q, d, generator=gen, dtype=torch.float64)
    k = torch.randn(*batch, n_k, d, generator=gen, dtype=torch.float64)
    v = torch.randn(*batch, n_k, d_v, generator=gen, dtype=torch.float64)
    return q, k, v


def test_feature_maps_values():
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    expected = {"elu+1": [math.exp(-1), 1.0, 3.0], "relu": [0.0, 0.0, 2.0], "exp": [math.exp(-1), 1.0, math.exp(2)]}
    for name, values in expected.items():
        got = linear.feature_map(name)(x)
        assert torch.allclose(got, torch.tensor(values, dtype=torch.float64), atol=1e-15, rtol=1e-15), name
    own = torch.sigmoid
    assert linear.feature_map(own) is own


@pytest.mark.parametrize("name", ["elu+1", "exp", "relu"])
@pytest.mark.parametrize("n_q, n_k", [(9, 9), (5, 9), (12, 7)])
def test_causal_forms_equal_the_reference(name, n_q, n_k):
    q, k, v = qkv(n_q, n_k)
    if name == "relu":  # positive inputs keep every causal row sum > 0
        q, k = q.abs() + 0.1, k.abs() + 0.1
    reference = attention(q, k, v, normalizer="linear", feature_map=linear.feature_map(name), causal=True)
    forms = {
        "quadratic": linear.linear_attention(q, k, v, name, causal=True),
        "rnn": linear.linear_attention_rnn(q, k, v, name),
        **{f"chunk {c}": linear.linear_attention_chunked(q, k, v, name, chunk=c) for c in (1, 3, 4, 20)},
    }
    for label, out in forms.items():
        assert out.shape == reference.shape, label
        assert torch.allclose(out, reference, atol=ATOL, rtol=0), (label, (out - reference).abs().max().item())


def test_non_causal_equals_the_reference():
    q, k, v = qkv(6, 11)
    reference = attention(q, k, v, normalizer="linear", feature_map=lambda x: F.elu(x) + 1)
    assert torch.allclose(linear.linear_attention(q, k, v), reference, atol=ATOL, rtol=0)


@pytest.mark.parametrize("form", ["quadratic", "rnn", "chunked"])
def test_causal_alignment_query_i_sees_keys_up_to_i(form):
    call = {
        "quadratic": lambda q, k, v: linear.linear_attention(q, k, v, causal=True),
        "rnn": linear.linear_attention_rnn,
        "chunked": lambda q, k, v: linear.linear_attention_chunked(q, k, v, chunk=2),
    }[form]
    q, k, v = qkv(8, 5, batch=())
    out = call(q, k, v)
    k2, v2 = k.clone(), v.clone()
    k2[3], v2[3] = k2[3] + 1.0, v2[3] - 2.0  # change key 3 only
    changed = (call(q, k2, v2) - out).abs().amax(-1)  # (n_q,)
    assert bool((changed[:3] == 0).all()) and bool((changed[3:] > 1e-6).all())
    past_keys = linear.linear_attention(q[5:], k, v)  # queries 5..7 are past the last key: they see all keys
    assert torch.allclose(out[5:], past_keys, atol=ATOL, rtol=0)


def brute_rope_linear(q, k, v, freqs):
    """Causal linear attention with RoPE on the numerator features only, one term at a time (2-D inputs)."""
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    out = torch.zeros(q.shape[0], v.shape[1], dtype=torch.float64)
    for i in range(q.shape[0]):
        rq = rotation_matrix(i, freqs) @ fq[i]
        num = sum((rq @ (rotation_matrix(j, freqs) @ fk[j])) * v[j] for j in range(i + 1))
        out[i] = num / sum(fq[i] @ fk[j] for j in range(i + 1))
    return out


def test_rope_in_the_numerator_only():
    q, k, v = qkv(7, 7, batch=())
    freqs = rope_frequencies(8)
    expected = brute_rope_linear(q, k, v, freqs)
    for out in (
        linear.linear_attention(q, k, v, causal=True, freqs=freqs),
        linear.linear_attention_rnn(q, k, v, freqs=freqs),
        linear.linear_attention_chunked(q, k, v, chunk=3, freqs=freqs),
    ):
        assert torch.allclose(out, expected, atol=ATOL, rtol=0)


def test_normalizers_are_causal_row_sums():
    q, k, _ = qkv(6, 6, batch=())
    fq, fk = torch.relu(q), torch.relu(k)
    expected = torch.stack([sum(fq[i] @ fk[j] for j in range(i + 1)) for i in range(6)])
    assert torch.allclose(linear.normalizers(q, k, "relu", causal=True), expected, atol=ATOL, rtol=0)
    full = torch.stack([sum(fq[i] @ fk[j] for j in range(6)) for i in range(6)])
    assert torch.allclose(linear.normalizers(q, k, "relu"), full, atol=ATOL, rtol=0)


def test_rotated_normalizers_can_turn_negative():
    # rope-rotation's point: RoPE inside the denominator breaks positivity
    gen = torch.Generator().manual_seed(2)
    q, k = (torch.randn(256, 16, generator=gen, dtype=torch.float64) for _ in range(2))
    rotated = linear.normalizers(q, k, "relu", causal=True, freqs=rope_frequencies(16))
    assert bool((linear.normalizers(q, k, "relu", causal=True) >= 0).all()) and bool((rotated < 0).any())


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda q, k, v: linear.feature_map("gelu"), "feature_map must be one of"),
        (lambda q, k, v: linear.linear_attention_chunked(q, k, v, chunk=0), "chunk must be >= 1"),
        (lambda q, k, v: linear.linear_attention(q, k, v[..., :3, :]), "v must have one row per key"),
        (lambda q, k, v: linear.linear_attention_rnn(q, k[..., :4], v), "q and k must share"),
        (lambda q, k, v: linear.linear_attention(q[0, 0, 0], k, v), "q must have at least 2"),
        (lambda q, k, v: linear.linear_attention(q, k, v, lambda x: 3), "feature_map must map q and k"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call(*qkv(6, 6))
