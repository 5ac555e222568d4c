"""Scaled dot-product attention with the normalizers the book compares.

Shapes: queries ``q`` (..., n_q, d), keys ``k`` (..., n_k, d), values ``v`` (..., n_k, d_v);
weights (..., n_q, n_k). ``causal=True`` lets query i see keys j <= i (top-left aligned, the
same convention as ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import _checks
from .random_models import random_keys  # noqa: F401  (importable from here since 0.1)

NORMALIZERS = ("softmax", "relu2", "linear")


def _scale(scale: float | None, d: int) -> float:
    return 1.0 / math.sqrt(d) if scale is None else _checks.real_number("scale", scale)


def causal_mask(n_q: int, n_k: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (n_q, n_k) mask, True where query i may see key j (j <= i). Chapter: sparsity-measures."""
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril()


def local_mask(
    n_q: int, n_k: int, window: int | None = None, sinks: int = 0, device: torch.device | None = None
) -> torch.Tensor:
    """Boolean (n_q, n_k) mask: causal, last ``window`` keys, first ``sinks`` keys.

    Chapter: train-short-test-long (via lab.evaluate, lab.load).

    Query i sees key j when j <= i and (i - j < window or j < sinks): top-left aligned like ``causal_mask``
    and torch's ``is_causal``, also when n_q != n_k.
    """
    _checks.positive_int("n_q", n_q)
    _checks.positive_int("n_k", n_k)
    if window is not None:
        _checks.positive_int("window", window)
    if isinstance(sinks, bool) or not isinstance(sinks, int) or sinks < 0:
        raise ValueError(f"sinks must be an int >= 0, got {sinks!r}")
    mask = causal_mask(n_q, n_k, device)  # (n_q, n_k)
    if window is None:
        return mask
    i = torch.arange(n_q, device=device)[:, None]
    j = torch.arange(n_k, device=device)[None, :]
    return mask & ((i - j < window) | (j < sinks))


def logn_scale(positions: object, train_len: int, clamp: bool = True) -> torch.Tensor:
    """ln(p + 1) / ln(train_len) of positions p, float64, >= 1 when ``clamp``.

    Chapter: entropy-invariant-scale (via entropy_invariant_scale).

    The query at position p (from 0, so p + 1 tokens are visible) is multiplied by it: the entropy-invariant
    scale log_L n without ``clamp``, Su's inference-time log n-dagger with it.
    """
    _checks.positive_int("train_len", train_len)
    if train_len < 2:
        raise ValueError(f"train_len must be >= 2 (it is the base of a logarithm), got {train_len}")
    p = _checks.finite("positions", torch.as_tensor(positions, dtype=torch.float64))
    if bool((p < 0).any()):
        raise ValueError("positions must be >= 0 everywhere (position p has p + 1 visible tokens)")
    scale = torch.log1p(p) / math.log(train_len)
    return scale.clamp(min=1.0) if clamp else scale


def scores(q: torch.Tensor, k: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Logits scale * q k^T, shape (..., n_q, n_k); default scale 1/sqrt(d). Chapter: rope-rotation."""
    _checks.qk(q, k)
    return (q @ k.transpose(-1, -2)) * _scale(scale, q.shape[-1])  # (..., n_q, n_k)


def attention_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    normalizer: str = "softmax",
    feature_map: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Attention weights (..., n_q, n_k) for ``normalizer`` "softmax", "relu2" or "linear". Chapter: rope-rotation.

    "softmax": softmax of the scaled logits. "relu2" (GAU): relu(logits)^2 / n_k, rows need not sum to 1.
    "linear": phi(q) phi(k)^T normalized per row, with ``feature_map`` phi (required) giving
    non-negative features; ``scale`` is not used there.
    """
    _checks.choice("normalizer", normalizer, NORMALIZERS)
    _checks.qk(q, k)
    n_q, n_k = q.shape[-2], k.shape[-2]
    mask = causal_mask(n_q, n_k, q.device) if causal else None
    if normalizer == "linear":
        return _linear_weights(q, k, feature_map, mask)
    if feature_map is not None:
        raise ValueError(f"feature_map is only used with normalizer='linear', not {normalizer!r}")
    logits = scores(q, k, scale)  # (..., n_q, n_k)
    if normalizer == "relu2":
        w = torch.relu(logits) ** 2 / n_k
        return w if mask is None else w.masked_fill(~mask, 0.0)
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return torch.softmax(logits, dim=-1)


def _linear_weights(q, k, feature_map, mask) -> torch.Tensor:
    if feature_map is None:
        raise ValueError("normalizer='linear' needs a feature_map, e.g. lambda x: torch.nn.functional.elu(x) + 1")
    fq, fk = feature_map(q), feature_map(k)  # (..., n_q, r), (..., n_k, r)
    if not (isinstance(fq, torch.Tensor) and isinstance(fk, torch.Tensor)) or fq.shape[-1] != fk.shape[-1]:
        raise ValueError("feature_map must map q and k to tensors with the same last dimension")
    if bool((fq < 0).any()) or bool((fk < 0).any()):
        raise ValueError("feature_map must return non-negative features (linear attention needs positive weights)")
    sim = fq @ fk.transpose(-1, -2)  # (..., n_q, n_k)
    if mask is not None:
        sim = sim.masked_fill(~mask, 0.0)
    total = sim.sum(-1, keepdim=True)
    if bool((total <= 0).any()):
        raise ValueError("feature_map gave a row with zero total similarity; use strictly positive features")
    return sim / total


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kw) -> torch.Tensor:
    """Attention output weights @ v, (..., n_q, d_v); keywords as ``attention_weights``. Chapter: rope-rotation."""
    _checks.tensor("v", v, min_dim=2)
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have one row per key: k has n_k = {k.shape[-2]}, v has {v.shape[-2]}")
    w = attention_weights(q, k, **kw)  # (..., n_q, n_k)
    if v.dtype != w.dtype:
        raise ValueError(f"v must have the dtype of q and k ({w.dtype}), got {v.dtype}")
    return w @ v


def entropy_invariant_scale(n: int | torch.Tensor, d: int, train_len: int = 512) -> float | torch.Tensor:
    """Scale log_{train_len}(n) / sqrt(d): entropy stays near its train_len value. Chapter: entropy-invariant-scale."""
    _checks.positive_int("d", d)
    if isinstance(n, torch.Tensor):
        if bool((n < 1).any()):
            raise ValueError("n must be >= 1 everywhere")
        return logn_scale(n.to(torch.float64) - 1, train_len, clamp=False) / math.sqrt(d)  # n keys: p = n - 1
    _checks.positive_int("n", n)
    return float(logn_scale(n - 1, train_len, clamp=False)) / math.sqrt(d)
