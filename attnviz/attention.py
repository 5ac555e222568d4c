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

NORMALIZERS = ("softmax", "relu2", "linear")


def _scale(scale: float | None, d: int) -> float:
    return 1.0 / math.sqrt(d) if scale is None else _checks.real_number("scale", scale)


def _check_qk(q: torch.Tensor, k: torch.Tensor) -> None:
    _checks.tensor("q", q, min_dim=2)
    _checks.tensor("k", k, min_dim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the head dimension d, got {q.shape[-1]} and {k.shape[-1]}")
    if q.dtype != k.dtype:
        raise ValueError(f"q and k must share a dtype, got {q.dtype} and {k.dtype}")
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except RuntimeError:
        raise ValueError(f"batch shapes of q {tuple(q.shape)} and k {tuple(k.shape)} do not broadcast") from None


def causal_mask(n_q: int, n_k: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (n_q, n_k) mask, True where query i may see key j (j <= i). Chapter: rope-rotation."""
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril()


def scores(q: torch.Tensor, k: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Logits scale * q k^T, shape (..., n_q, n_k); default scale 1/sqrt(d). Chapter: rope-rotation."""
    _check_qk(q, k)
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
    _check_qk(q, k)
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
    _checks.positive_int("train_len", train_len)
    if train_len < 2:
        raise ValueError(f"train_len must be >= 2 (it is the base of a logarithm), got {train_len}")
    if isinstance(n, torch.Tensor):
        if bool((n < 1).any()):
            raise ValueError("n must be >= 1 everywhere")
        return torch.log(n.to(torch.float64)) / math.log(train_len) / math.sqrt(d)
    _checks.positive_int("n", n)
    return math.log(n) / math.log(train_len) / math.sqrt(d)


def random_keys(
    n: int,
    d: int,
    *,
    sphere: bool = False,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """(n, d) keys, iid N(0, 1) entries or uniform on the sphere of radius sqrt(d). Chapter: entropy-invariant-scale.

    ``sphere=True`` is the key model of the entropy-invariance derivation (post 8823): every key
    has norm sqrt(d), so q . k = d cos(angle) for a query of the same norm.
    """
    _checks.positive_int("n", n)
    _checks.positive_int("d", d)
    if not isinstance(sphere, bool):
        raise ValueError(f"sphere must be True or False, got {sphere!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype must be a floating-point torch dtype, got {dtype!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    k = torch.randn(n, d, generator=generator, dtype=dtype)  # (n, d)
    if sphere:
        k = k * (math.sqrt(d) / k.norm(dim=-1, keepdim=True))
    return k
