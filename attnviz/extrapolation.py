"""One vocabulary of inference-time length-extrapolation methods, shared by positions, lab, pretrained and chapters.

A :class:`Method` says how attention treats positions when a model trained at ``train_len`` reads n tokens:
which :func:`~attnviz.positions.rope_frequencies` schedule (at factor max(1, n / train_len)), the log n scale,
YaRN's logit scale, a sliding window with sink tokens, or ReRoPE / Leaky ReRoPE. :data:`METHODS` names them;
:func:`method_logits` turns pre-rotation queries and keys into the masked, scaled logits of one method.

Names: "rope" (plain RoPE), "pi" (position interpolation), "ntk" (NTK-aware, bloc97), "base-k" (Su's base
conversion), "ntk-fixed", "ntk-mixed", "yarn" (the paper's ramp in turns, alpha = 1 and beta = 4 turns, with its
logit scale), "dynamic" (dynamic NTK), "rerope-wW", "leaky-rerope-w32", "window", "window+sinks", and "+logn"
for the log n scale on top of another method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import _checks
from .attention import local_mask, logn_scale
from .positions import RAMPS, SCALINGS, alibi_slopes, apply_rope, rerope_scores, rope_frequencies, yarn_logit_scale

POSITIONS = ("rope", "none", "alibi")  # how a model encodes positions: RoPE, nothing (NoPE), ALiBi biases


@dataclass(frozen=True)
class Method:
    """How attention treats positions at inference; fields left at their defaults give plain RoPE.

    Chapter: train-short-test-long (via lab.METHODS).

    ``scaling``: a :func:`attnviz.positions.rope_frequencies` schedule, applied with factor
    max(1, n / train_len) for a sequence of length n (static scaling to the test length); "dynamic" instead
    gives the query at position p the dynamic-NTK frequencies of its prefix length p + 1.
    ``yarn_ramp`` and ``yarn_ramp_over``: YaRN's turn thresholds (alpha, beta) and whether it ramps over
    turns (the paper) or pair indices (transformers). ``logn``: queries at position p multiplied by
    max(1, ln(p + 1) / ln train_len) (the log n† scale). ``yarn_scale``: logits multiplied by
    (1 + 0.1 ln factor)^2. ``window``: each query sees only its last ``window`` keys, plus the first
    ``sinks`` keys. ``rerope``: ReRoPE window w; ``leak``: Leaky ReRoPE's k ("auto": the smallest k that
    keeps every relative position below train_len).
    """

    scaling: str | None = None
    mix: float = 0.625
    logn: bool = False
    yarn_scale: bool = False
    window: int | None = None
    sinks: int = 0
    rerope: int | None = None
    leak: float | str | None = None
    yarn_ramp: tuple[float, float] = (1.0, 4.0)
    yarn_ramp_over: str = "turns"

    def __post_init__(self) -> None:
        _checks.choice("scaling", self.scaling, SCALINGS)
        _checks.choice("yarn_ramp_over", self.yarn_ramp_over, RAMPS)
        if self.rerope is not None and self.scaling is not None:
            raise ValueError("rerope and scaling cannot be combined (ReRoPE keeps the trained frequencies)")
        if self.leak is not None and self.rerope is None:
            raise ValueError("leak needs rerope (Leaky ReRoPE is ReRoPE with a finite k)")
        if self.sinks and self.window is None:
            raise ValueError("sinks needs window (sink tokens are kept visible outside a sliding window)")


METHODS: dict[str, Method] = {
    "rope": Method(),
    "pi": Method(scaling="linear"),
    "ntk": Method(scaling="ntk"),
    "ntk-fixed": Method(scaling="ntk-fixed"),
    "ntk-mixed": Method(scaling="ntk-mixed"),
    "yarn": Method(scaling="yarn", yarn_scale=True),
    "rerope-w16": Method(rerope=16),
    "rerope-w32": Method(rerope=32),
    "rerope-w48": Method(rerope=48),
    "rerope-w64": Method(rerope=64),
    "leaky-rerope-w32": Method(rerope=32, leak="auto"),
    "window": Method(window=64),
    "window+sinks": Method(window=64, sinks=4),
    "rope+logn": Method(logn=True),
    "pi+logn": Method(scaling="linear", logn=True),
    "ntk+logn": Method(scaling="ntk", logn=True),
    "ntk-mixed+logn": Method(scaling="ntk-mixed", logn=True),
    "rerope-w32+logn": Method(rerope=32, logn=True),
    "base-k": Method(scaling="base-k"),
    "dynamic": Method(scaling="dynamic"),
}


def method(name: str) -> Method:
    """The :class:`Method` called ``name`` in :data:`METHODS`. Chapter: train-short-test-long."""
    _checks.choice("name", name, tuple(METHODS))
    return METHODS[name]


def frequencies(how: Method, d: int, base: float, n: int, train_len: int) -> torch.Tensor:
    """RoPE frequencies (d/2,) float64 of ``how`` for n tokens (factor max(1, n / L)).

    Chapter: train-short-test-long (via lab.evaluate, lab.run).

    ReRoPE keeps the trained frequencies; "dynamic" gives those of the last query (seq_len n, transformers'
    dynamic NTK with its factor 1, so the NTK factor is max(1, n / train_len)).
    """
    _checks.positive_int("n", n)
    _checks.positive_int("train_len", train_len)
    if how.rerope is not None:
        return rope_frequencies(d, base)
    if how.scaling == "dynamic":
        return rope_frequencies(d, base, "dynamic", 1.0, train_len=train_len, seq_len=n)
    factor = max(1.0, n / train_len)
    return rope_frequencies(
        d,
        base,
        how.scaling,
        factor,
        mix=how.mix,
        train_len=train_len,
        ramp=how.yarn_ramp,
        ramp_over=how.yarn_ramp_over,
    )


def leak_for(how: Method, n: int, train_len: int) -> float | None:
    """Leaky ReRoPE's k for n tokens ("auto": relative positions stay below L).

    Chapter: train-short-test-long (via lab.evaluate, lab.run).
    """
    if how.leak != "auto":
        return None if how.leak is None else float(how.leak)
    return max(1.0, (n - 1 - how.rerope) / max(train_len - 1 - how.rerope, 1))


def _dynamic_rows(q: torch.Tensor, k: torch.Tensor, s: torch.Tensor, base: float, train_len: int) -> torch.Tensor:
    """Overwrite rows p >= train_len of RoPE logits s (..., n, n) with those at the frequencies of length p + 1."""
    d, n = q.shape[-1], q.shape[-2]
    if n <= train_len:
        return s
    qc = torch.complex(q[..., 0::2], q[..., 1::2])  # (..., n, d/2): the interleaved pairs as complex numbers
    kc = torch.complex(k[..., 0::2], k[..., 1::2]).conj()
    rows = torch.arange(train_len, n, device=q.device)
    theta = torch.stack([rope_frequencies(d, base, "dynamic", train_len=train_len, seq_len=int(p) + 1) for p in rows])
    rel = (rows[:, None] - torch.arange(n, device=q.device)[None, :]).to(torch.float64)  # (rows, n): p - j
    batch = max(1, math.prod(q.shape[:-2]))
    chunk = max(1, 2**22 // (batch * n * d // 2))
    s = s.clone()
    for start in range(0, len(rows), chunk):
        part = slice(start, start + chunk)
        angle = rel[part, :, None] * theta[part, None, :].to(q.device)  # (c, n, d/2)
        phase = torch.polar(torch.ones_like(angle), angle).to(qc.dtype)
        p = rows[part]
        s[..., p, :] = (qc[..., p, None, :] * kc[..., None, :, :] * phase).sum(-1).real  # (..., c, n)
    return s


def method_logits(
    q: torch.Tensor,
    k: torch.Tensor,
    how: Method | str,
    *,
    train_len: int,
    base: float = 10000.0,
    position: str = "rope",
    logn_train: bool = False,
) -> torch.Tensor:
    """Masked, scaled logits (..., n, n) of pre-rotation q, k (..., n, d) under ``how``.

    Chapter: train-short-test-long (via lab.evaluate, lab.run).

    Row p is scaled by 1 / sqrt(d), by log_L(p + 1) when the model trained with it (``logn_train``, which makes
    ``how.logn`` moot) or else by ``how``'s log n scale, and by YaRN's logit scale; causal, window and sinks
    mask with -inf. ``position="none"`` (NoPE) ignores the positional part of ``how``; ``position="alibi"``
    ignores it too and adds ALiBi's bias -slope_h (p - j) to the scaled logits of head h (q, k (..., h, n, d)).
    """
    how = method(how) if isinstance(how, str) else how
    if not isinstance(how, Method):
        raise ValueError(f"how must be a Method or a name in METHODS, got {how!r}")
    _checks.tensor("q", q, min_dim=2)
    _checks.tensor("k", k, min_dim=2)
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape (..., n, d), got {tuple(q.shape)} and {tuple(k.shape)}")
    _checks.positive_int("train_len", train_len)
    _checks.choice("position", position, POSITIONS)
    n, d = q.shape[-2], q.shape[-1]
    pos = torch.arange(n, dtype=torch.float64, device=q.device)
    scale = torch.full((n,), 1 / math.sqrt(d), dtype=torch.float64, device=q.device)  # (n,)
    if logn_train:
        scale = scale * logn_scale(pos, train_len, clamp=False)  # log_L(p + 1), also beyond L
    elif how.logn:
        scale = scale * logn_scale(pos, train_len)
    if how.yarn_scale:
        scale = scale * yarn_logit_scale(max(1.0, n / train_len))
    if position in ("none", "alibi"):
        s = q @ k.transpose(-1, -2)
    elif how.rerope is not None:
        s = rerope_scores(q, k, frequencies(how, d, base, n, train_len), how.rerope, leak_for(how, n, train_len))
    else:
        dynamic = how.scaling == "dynamic"  # rows up to train_len keep the trained frequencies, the rest follow
        freqs = frequencies(how, d, base, min(n, train_len) if dynamic else n, train_len)  # (d/2,)
        s = apply_rope(q, pos, freqs) @ apply_rope(k, pos, freqs).transpose(-1, -2)  # (..., n, n)
        if dynamic:
            s = _dynamic_rows(q, k, s, base, train_len)
    s = s * scale.to(s.dtype)[:, None]  # (..., n, n), row p scaled
    if position == "alibi":
        if q.dim() < 3:
            raise ValueError(f"ALiBi needs q, k of shape (..., heads, n, d), got {tuple(q.shape)}")
        slopes = alibi_slopes(q.shape[-3]).to(s.dtype).to(q.device)  # (h,)
        s = s - slopes[:, None, None] * (pos[:, None] - pos[None, :]).to(s.dtype)  # (..., h, n, n); j > i masked
    return s.masked_fill(~local_mask(n, n, how.window, how.sinks, q.device), float("-inf"))
