"""attnviz.streaming against the materialised matrix: tiling, recentring, the causal convention, bad input.

Chapters: entropy-invariant-scale, performance (the appendix). The one reference below forms the
n_q x n_k matrix in float64 with plain torch calls, independently of attnviz.
"""

import itertools
import math

import pytest
import torch

from attnviz import streaming
from attnviz.streaming import streaming_row_entropy, streaming_row_stats, streaming_softmax_stats

TOL = 1e-10
SWEEP = streaming._sweep


def _reference(q, k, scale=None, causal=False):
    """Every statistic from the materialised float64 matrix."""
    q, k = q.double(), k.double()
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ k.transpose(-1, -2) * scale  # (..., n_q, n_k)
    n_q, n_k = s.shape[-2:]
    seen = torch.ones(n_q, n_k, dtype=torch.bool)
    if causal:
        seen = torch.arange(n_k)[None, :] <= torch.arange(n_q)[:, None]
    s = s.masked_fill(~seen, float("-inf"))
    p = torch.softmax(s, -1)
    return {
        "log_z": torch.logsumexp(s, -1),
        "entropy": torch.special.entr(p).sum(-1),
        "sum_p2": (p * p).sum(-1),
        "participation_ratio": 1 / (p * p).sum(-1),
        "max_p": p.amax(-1),
        "max_logit": s.amax(-1),
        "n_keys": seen.sum(-1).expand(p.shape[:-1]),
    }


def _assert_stats(got, want, tol=TOL):
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name].shape == value.shape, name
        err = (got[name].double() - value.double()).abs().max().item()
        assert err <= tol, f"{name}: max error {err:.2e} > {tol:.0e}"


SHAPES = [  # (q shape, k shape): batch dims, n_q < n_k, n_q > n_k, n = 1
    ((7, 16), (41, 16)),
    ((41, 16), (7, 16)),
    ((1, 8), (1, 8)),
    ((1, 8), (30, 8)),
    ((2, 3, 7, 16), (2, 3, 41, 16)),
    ((2, 1, 9, 8), (3, 13, 8)),  # batch dims broadcast
]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block", [1, 3, 7, 64, 10_000])
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_row_stats_match_materialised(shapes, block, causal):
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(*shapes[0], generator=gen, dtype=torch.float64)
    k = torch.randn(*shapes[1], generator=gen, dtype=torch.float64)
    for scale in (None, 0.05, 2.0, 25.0):  # 25: logits of ~100, too large for a reference of 0
        want = _reference(q, k, scale, causal)
        got = streaming_row_stats(q, k, scale=scale, causal=causal, block=block)
        _assert_stats(got, want)
        log_z, h = streaming_softmax_stats(q, k, scale=scale, causal=causal, block=block)
        assert torch.allclose(log_z, want["log_z"], atol=TOL, rtol=0)
        assert torch.allclose(h, want["entropy"], atol=TOL, rtol=0)
        assert torch.equal(streaming_row_entropy(q, k, scale=scale, causal=causal, block=block), h)


@pytest.mark.parametrize("causal", [False, True])
def test_many_query_tiles_and_key_chunks(monkeypatch, causal):
    """Tiny tiles and chunks: every boundary case of the loops (tile crossing the diagonal, a chunk
    smaller than a block's multiple, a last tile of one query) is hit."""
    monkeypatch.setattr(streaming, "_TILE_BYTES", 200)
    monkeypatch.setattr(streaming, "_CHUNK_KEYS", 10)
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(2, 23, 5, generator=gen, dtype=torch.float64)
    k = torch.randn(2, 37, 5, generator=gen, dtype=torch.float64)
    for block, scale in itertools.product((1, 4, 7, 50), (None, 40.0)):  # 40: the path with a reference
        want = _reference(q, k, scale, causal)
        _assert_stats(streaming_row_stats(q, k, scale=scale, causal=causal, block=block), want)


def test_causal_first_rows_see_few_keys():
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(6, 4, generator=gen, dtype=torch.float64), torch.randn(9, 4, generator=gen, dtype=torch.float64)
    stats = streaming_row_stats(q, k, causal=True, block=2)
    assert stats["n_keys"].tolist() == [1, 2, 3, 4, 5, 6]  # top-left aligned: keys 6..8 unseen
    assert float(stats["entropy"][0]) == 0.0 and float(stats["max_p"][0]) == 1.0
    assert float(stats["participation_ratio"][0]) == 1.0
    assert math.isclose(float(stats["log_z"][0]), float(q[0] @ k[0]) / 2, abs_tol=1e-15)


@pytest.mark.parametrize("n_q, n_k", [(5, 12), (12, 5), (9, 9)])
def test_causal_convention_is_torch_is_causal(n_q, n_k):
    """torch's own attention with values = identity returns the weights: same mask, same rows."""
    gen = torch.Generator().manual_seed(7)
    q = torch.randn(2, n_q, 8, generator=gen, dtype=torch.float64)
    k = torch.randn(2, n_k, 8, generator=gen, dtype=torch.float64)
    eye = torch.eye(n_k, dtype=torch.float64).expand(2, n_k, n_k)
    p = torch.nn.functional.scaled_dot_product_attention(q, k, eye, is_causal=True)  # (2, n_q, n_k)
    st = streaming_row_stats(q, k, causal=True, block=4)
    assert torch.allclose(st["entropy"], torch.special.entr(p).sum(-1), atol=TOL, rtol=0)
    assert torch.allclose(st["max_p"], p.amax(-1), atol=TOL, rtol=0)
    assert torch.equal(st["n_keys"], (p > 0).sum(-1))


def test_inequality_chain_and_uniform_rows():
    gen = torch.Generator().manual_seed(3)
    q, k = (
        torch.randn(50, 16, generator=gen, dtype=torch.float64),
        torch.randn(300, 16, generator=gen, dtype=torch.float64),
    )
    st = streaming_row_stats(q, k, scale=0.7, causal=True, block=64)
    chain = [torch.ones(50), 1 / st["max_p"], st["participation_ratio"], st["entropy"].exp(), st["n_keys"].double()]
    for low, high in zip(chain[:-1], chain[1:], strict=True):
        assert bool((low <= high * (1 + 1e-12)).all())
    flat = streaming_row_stats(torch.zeros(3, 16, dtype=torch.float64), k, block=7)  # all logits 0: uniform
    assert torch.allclose(flat["entropy"], torch.full((3,), math.log(300), dtype=torch.float64), rtol=0, atol=1e-12)
    assert torch.allclose(flat["participation_ratio"], torch.full((3,), 300.0, dtype=torch.float64), rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, TOL), (torch.float32, 1e-3)])
@pytest.mark.parametrize("gap", [30.0, 100.0, 1000.0])
def test_late_keys_far_above_the_first_block(monkeypatch, dtype, tol, gap):
    """With large logits the reference logit comes from the first keys; keys that outgrow it by
    30, 100 or 1000 nats (exp overflows past 88 in float32, 709 in float64) make the pass start
    again, centred. Float64 logits below 300 in size need no reference at all."""
    gen = torch.Generator().manual_seed(4)
    q = torch.randn(5, 8, generator=gen, dtype=torch.float64)
    k = torch.randn(64, 8, generator=gen, dtype=torch.float64)
    q[:, 0], k[40:, 0] = 1.0, k[40:, 0] + gap  # logits of keys 40..63 up by exactly gap
    sweeps = []
    monkeypatch.setattr(streaming, "_sweep", lambda *a, **kw: sweeps.append(kw["ref"]) or SWEEP(*a, **kw))
    got = streaming_row_stats(q.to(dtype), k.to(dtype), scale=1.0, block=16)
    if dtype == torch.float64 and gap == 30:  # |q| |k| < 300: exp is safe about ref = 0 in float64
        assert sweeps == ["zero"]
    else:  # ref from the first 16 keys, outgrown by keys 40..63: centred again
        assert sweeps[0] == "set" and sweeps[-1] == "column"
    want = _reference(q, k, 1.0)
    for name in ("log_z", "max_logit"):  # ~gap in size: compare relative to it
        got[name], want[name] = got[name].double() / gap, want[name] / gap
    _assert_stats(got, want, tol)
    sweeps.clear()
    h = streaming_row_entropy(q.to(dtype), k.to(dtype), scale=1.0, block=16)
    assert torch.allclose(h.double(), want["entropy"], atol=tol, rtol=0)
    if gap > (88 if dtype == torch.float32 else 709):  # exp overflowed: one more pass finds the max
        assert sweeps == ["set", "column", "column"]


def test_float32_accuracy_and_dtypes():
    """float32 in, float32 out; sums kept in float64: the error is that of float32 logits."""
    gen = torch.Generator().manual_seed(5)
    q, k = torch.randn(64, 64, generator=gen), torch.randn(4096, 64, generator=gen)
    got = streaming_row_stats(q, k, block=1000)
    assert got["entropy"].dtype == torch.float32 and got["n_keys"].dtype == torch.int64
    want = _reference(q, k)
    errs = {name: (got[name].double() - want[name]).abs().max().item() for name in ("log_z", "entropy", "sum_p2")}
    assert errs["log_z"] < 2e-6 and errs["entropy"] < 2e-6 and errs["sum_p2"] < 1e-9, errs
    half = streaming_row_entropy(q.bfloat16(), k.bfloat16())
    assert half.dtype == torch.bfloat16
    assert torch.allclose(half.double(), _reference(q.bfloat16(), k.bfloat16())["entropy"], rtol=0, atol=0.05)


def test_block_does_not_change_the_answer_and_views_work():
    gen = torch.Generator().manual_seed(6)
    q, k = (
        torch.randn(16, 33, generator=gen, dtype=torch.float64),
        torch.randn(16, 200, generator=gen, dtype=torch.float64),
    )
    base = streaming_row_stats(q.T, k.T, causal=True, block=200)  # transposed (non-contiguous) views
    for block in (1, 9, 64, 199, 4096):
        _assert_stats(streaming_row_stats(q.T, k.T, causal=True, block=block), base, 1e-12)


def test_no_gradient_and_inputs_untouched():
    q = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    k = torch.randn(10, 8, dtype=torch.float64)
    k_before = k.clone()
    h = streaming_row_entropy(q, k, block=3)
    assert not h.requires_grad and torch.equal(k, k_before)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"q": [[1.0]]}, "q must be a torch.Tensor"),
        ({"k": torch.ones(5, 4, dtype=torch.int64)}, "k must have a floating-point dtype"),
        ({"q": torch.randn(4)}, "q must have at least 2 dimension"),
        ({"k": torch.randn(5, 3)}, "share the head dimension"),
        ({"k": torch.randn(5, 4, dtype=torch.float64)}, "share a dtype"),
        ({"k": torch.randn(0, 4)}, "at least one key"),
        ({"q": torch.randn(2, 3, 4), "k": torch.randn(3, 5, 4)}, "do not broadcast"),
        ({"q": torch.tensor([[1.0, float("nan"), 0, 0]])}, "q must be finite"),
        ({"k": torch.full((5, 4), float("inf"))}, "k must be finite"),
        (
            {"q": torch.randn(3, 4, dtype=torch.complex64), "k": torch.randn(5, 4, dtype=torch.complex64)},
            "q must be real",
        ),
        ({"q": torch.randn(3, 0), "k": torch.randn(5, 0)}, "head dimension d >= 1"),
        ({"block": 0}, "block must be >= 1"),
        ({"block": 2.5}, "block must be an int"),
        ({"causal": "yes"}, "causal must be True or False"),
        ({"scale": float("nan")}, "scale must be finite"),
        ({"scale": "big"}, "scale must be a real number"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    args = {"q": torch.randn(3, 4), "k": torch.randn(5, 4)} | kwargs
    q, k = args.pop("q"), args.pop("k")
    for fn in (streaming_row_stats, streaming_softmax_stats, streaming_row_entropy):
        with pytest.raises(ValueError, match=message):
            fn(q, k, **args)


def test_float32_limits_uniform_rows_and_a_single_key():
    """Zero queries give uniform rows (entropy log n exactly up to float32); one key gives entropy 0."""
    k = torch.randn(100, 8, generator=torch.Generator().manual_seed(8))
    stats = streaming_row_stats(torch.zeros(2, 8), k, block=9)
    assert stats["entropy"].dtype == torch.float32
    err_h = (stats["entropy"].double() - math.log(100)).abs().max().item()
    err_pr = (stats["participation_ratio"].double() - 100).abs().max().item()
    assert err_h < 1e-6 and err_pr < 1e-3, (err_h, err_pr)
    assert float(streaming_row_entropy(torch.randn(1, 8), k[:1])[0]) == 0.0


def test_empty_query_set():
    stats = streaming_row_stats(torch.randn(2, 0, 4), torch.randn(2, 5, 4))
    assert all(v.shape == (2, 0) for v in stats.values())
