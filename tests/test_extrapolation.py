"""The registry of length-extrapolation methods (attnviz.extrapolation) against the lab's former formula."""

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from attnviz.attention import causal_mask
from attnviz.extrapolation import METHODS, Method, frequencies, leak_for, method, method_logits
from attnviz.positions import apply_rope, rerope_scores, rope_frequencies

TRAIN_LEN, BASE = 64, 10000.0
LAB_DATA = Path(__file__).resolve().parents[1] / "attnviz" / "data" / "lab"
COMMITTED = (  # the methods of the committed lab results (attnviz/data/lab)
    "rope pi ntk ntk-fixed ntk-mixed yarn rerope-w16 rerope-w32 rerope-w48 rerope-w64 leaky-rerope-w32 window "
    "window+sinks rope+logn pi+logn ntk+logn ntk-mixed+logn rerope-w32+logn"
).split()


def _former_lab_logits(q, k, how, train_len, base, position="rope", logn_train=False):
    """lab.Attention.logits as it was before the registry moved (commit efa0145), written out again."""
    n, d = q.shape[-2], q.shape[-1]
    factor = max(1.0, n / train_len)
    pos = torch.arange(n, dtype=torch.float64)
    scale = torch.full((n,), 1 / math.sqrt(d), dtype=torch.float64)
    if logn_train:
        scale = scale * torch.log1p(pos) / math.log(train_len)
    elif how.logn:
        scale = scale * (torch.log1p(pos) / math.log(train_len)).clamp(min=1.0)
    if how.yarn_scale:
        scale = scale * (1 + 0.1 * math.log(factor)) ** 2
    if position == "none":
        s = q @ k.transpose(-1, -2)
    elif how.rerope is not None:
        leak = how.leak
        if leak == "auto":
            leak = max(1.0, (n - 1 - how.rerope) / max(train_len - 1 - how.rerope, 1))
        s = rerope_scores(q, k, rope_frequencies(d, base), how.rerope, None if leak is None else float(leak))
    else:
        kw = dict(mix=how.mix, train_len=train_len, ramp=how.yarn_ramp)
        freqs = rope_frequencies(d, base, how.scaling, factor, **kw)
        s = apply_rope(q, pos, freqs) @ apply_rope(k, pos, freqs).transpose(-1, -2)
    s = s * scale[:, None]
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    seen = j <= i
    if how.window is not None:
        seen = seen & ((i - j < how.window) | (j < how.sinks))
    return s.masked_fill(~seen, float("-inf"))


@pytest.fixture(scope="module")
def qk():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(2, 2, 150, 16, generator=gen, dtype=torch.float64)  # (batch, heads, n, d_head)
    k = torch.randn(2, 2, 150, 16, generator=gen, dtype=torch.float64)
    return q, k


@pytest.mark.parametrize("name", [m for m in METHODS if m != "dynamic"])
@pytest.mark.parametrize("setting", [{}, {"logn_train": True}, {"position": "none"}])
def test_method_logits_equal_the_former_lab_formula(qk, name, setting):
    q, k = qk
    got = method_logits(q, k, name, train_len=TRAIN_LEN, base=BASE, **setting)
    expected = _former_lab_logits(q, k, METHODS[name], TRAIN_LEN, BASE, **setting)
    seen = torch.isfinite(expected)
    assert torch.equal(torch.isfinite(got), seen)
    assert torch.allclose(got[..., seen], expected[..., seen], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", [m for m in METHODS if METHODS[m].rerope is None])
def test_every_method_but_rerope_is_plain_rope_within_the_training_length(qk, name):
    q, k = (x[..., :TRAIN_LEN, :] for x in qk)
    plain = method_logits(q, k, "rope", train_len=TRAIN_LEN)
    got = method_logits(q, k, name, train_len=TRAIN_LEN)
    assert torch.equal(torch.isfinite(got), torch.isfinite(plain))
    seen = torch.isfinite(plain)
    assert torch.allclose(got[..., seen], plain[..., seen], rtol=0, atol=1e-12)
    assert torch.equal(frequencies(METHODS[name], 16, BASE, TRAIN_LEN, TRAIN_LEN), rope_frequencies(16))


def test_dynamic_gives_each_query_the_ntk_frequencies_of_its_own_prefix(qk):
    q, k = qk
    got = method_logits(q, k, "dynamic", train_len=TRAIN_LEN)  # (2, 2, 150, 150)
    plain = method_logits(q, k, "rope", train_len=TRAIN_LEN)
    assert torch.allclose(got[..., :TRAIN_LEN, :], plain[..., :TRAIN_LEN, :], rtol=0, atol=1e-12)
    for p in (TRAIN_LEN, 100, 149):  # a sequence of p + 1 tokens under static NTK, its last query
        prefix = method_logits(q[..., : p + 1, :], k[..., : p + 1, :], "ntk", train_len=TRAIN_LEN)
        assert torch.allclose(got[..., p, : p + 1], prefix[..., p, :], rtol=0, atol=1e-12)
        assert torch.isinf(got[..., p, p + 1 :]).all()
    assert not torch.allclose(got[..., 100, :101], plain[..., 100, :101], rtol=0, atol=1e-3)


def test_dynamic_rows_in_float32_follow_float64(qk):
    q, k = qk
    got = method_logits(q.float(), k.float(), "dynamic", train_len=TRAIN_LEN)
    ref = method_logits(q, k, "dynamic", train_len=TRAIN_LEN)
    assert got.dtype == torch.float32
    seen = torch.isfinite(ref)
    assert torch.allclose(got.double()[..., seen], ref[..., seen], rtol=0, atol=1e-4)


def test_frequencies_follow_rope_frequencies_at_the_test_length():
    d, n = 32, 256  # factor 4
    assert torch.equal(frequencies(method("pi"), d, BASE, n, TRAIN_LEN), rope_frequencies(d, BASE) / 4)
    ntk = rope_frequencies(d, BASE, "ntk", 4.0)
    assert torch.allclose(frequencies(method("ntk"), d, BASE, n, TRAIN_LEN), ntk, rtol=1e-15, atol=0)
    assert torch.allclose(frequencies(method("dynamic"), d, BASE, n, TRAIN_LEN), ntk, rtol=1e-12, atol=0)
    base_k = rope_frequencies(d, 4 * BASE)
    assert torch.allclose(frequencies(method("base-k"), d, BASE, n, TRAIN_LEN), base_k, rtol=1e-15, atol=0)
    yarn = rope_frequencies(d, BASE, "yarn", 4.0, train_len=TRAIN_LEN, ramp=(1.0, 4.0))
    assert torch.equal(frequencies(method("yarn"), d, BASE, n, TRAIN_LEN), yarn)
    pairs = Method(scaling="yarn", yarn_ramp=(1.0, 32.0), yarn_ramp_over="pairs")
    expected = rope_frequencies(d, BASE, "yarn", 4.0, train_len=TRAIN_LEN, ramp_over="pairs")
    assert torch.equal(frequencies(pairs, d, BASE, n, TRAIN_LEN), expected)
    assert torch.equal(frequencies(method("rerope-w16"), d, BASE, n, TRAIN_LEN), rope_frequencies(d, BASE))


def test_leaky_rerope_auto_keeps_relative_positions_below_the_training_length():
    how = method("leaky-rerope-w32")
    assert leak_for(how, 64, TRAIN_LEN) == 1.0
    assert leak_for(how, 1024, TRAIN_LEN) == pytest.approx((1023 - 32) / (63 - 32), rel=1e-15)
    assert leak_for(method("rerope-w32"), 1024, TRAIN_LEN) is None
    assert leak_for(Method(rerope=8, leak=3), 1024, TRAIN_LEN) == 3.0
    w, n = 32, 1024
    leak = leak_for(how, n, TRAIN_LEN)
    assert w + (n - 1 - w) / leak == pytest.approx(TRAIN_LEN - 1, rel=1e-14)  # the farthest key, compressed


def test_registry_names_and_committed_metadata():
    assert set(COMMITTED) | {"base-k", "dynamic"} == set(METHODS)
    for name in ("rope+logn", "pi+logn", "ntk+logn", "ntk-mixed+logn", "rerope-w32+logn"):
        base_name = name.removesuffix("+logn")
        assert METHODS[name] == dataclasses.replace(METHODS[base_name], logn=True)
    for file, key in (("meta.json", None), ("results.json", "meta")):
        meta = json.loads((LAB_DATA / file).read_text())
        meta = meta[key] if key else meta
        assert set(meta["methods"]) == set(COMMITTED)
        for name, fields in meta["methods"].items():
            assert fields == json.loads(json.dumps(dataclasses.asdict(METHODS[name]))), (file, name)


def test_causal_mask_of_the_former_visible_is_kept():
    logits = method_logits(torch.zeros(1, 6, 4), torch.zeros(1, 6, 4), "window+sinks", train_len=16)
    assert torch.equal(torch.isfinite(logits[0]), causal_mask(6, 6))  # window 64 covers all six
    narrow = method_logits(torch.zeros(1, 6, 4), torch.zeros(1, 6, 4), Method(window=2, sinks=1), train_len=16)
    assert torch.isfinite(narrow[0, 5]).tolist() == [True, False, False, False, True, True]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: method("ntk-old"), "name must be one of"),
        (lambda: Method(scaling="ntk-old"), "scaling must be one of"),
        (lambda: Method(yarn_ramp_over="dims"), "yarn_ramp_over must be one of"),
        (lambda: Method(rerope=16, scaling="linear"), "rerope and scaling"),
        (lambda: Method(leak=2.0), "leak needs rerope"),
        (lambda: Method(sinks=4), "sinks needs window"),
        (lambda: method_logits(torch.zeros(4, 8), torch.zeros(5, 8), "rope", train_len=16), "q and k"),
        (lambda: method_logits(torch.zeros(4, 8), torch.zeros(4, 8), 3, train_len=16), "how must be a Method"),
        (lambda: method_logits(torch.zeros(4, 8), torch.zeros(4, 8), "rope", train_len=0), "train_len"),
        (lambda: method_logits(torch.zeros(4, 8), torch.zeros(4, 8), "rope", train_len=16, position="abs"), "position"),
        (lambda: frequencies(method("pi"), 8, BASE, 0, 16), "n must be >= 1"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_alibi_position_adds_the_per_head_bias_to_the_scaled_logits():
    from attnviz.positions import alibi_bias

    gen = torch.Generator().manual_seed(3)
    q, k = (torch.randn(2, 4, 12, 8, generator=gen, dtype=torch.float64) for _ in range(2))  # (b, h, n, d)
    got = method_logits(q, k, "rope", train_len=64, position="alibi")
    want = q @ k.transpose(-1, -2) / math.sqrt(8) + alibi_bias(12, 4)  # (b, h, n, n)
    seen = torch.ones(12, 12, dtype=torch.bool).tril()
    assert torch.allclose(got[..., seen], want[..., seen], rtol=0, atol=1e-12)
    assert bool(torch.isneginf(got[..., ~seen]).all())
    # the rotation-specific parts of a method do not apply: NTK gives the same logits as plain
    assert torch.equal(method_logits(q, k, "ntk", train_len=4, position="alibi"), got)
    with pytest.raises(ValueError, match="ALiBi needs q, k of shape"):
        method_logits(q[0, 0], k[0, 0], "rope", train_len=64, position="alibi")
