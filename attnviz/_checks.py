"""Argument checks shared by every attnviz module (clear ValueErrors, never deep torch tracebacks)."""

from __future__ import annotations

import math
from numbers import Real

import torch


def tensor(name: str, x: object, *, min_dim: int = 1) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor with at least ``min_dim`` dimensions."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not (x.is_floating_point() or x.is_complex()):
        raise ValueError(f"{name} must have a floating-point dtype, got {x.dtype}")
    if x.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got shape {tuple(x.shape)}")
    return x


def finite(name: str, x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` if every entry is finite."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite everywhere (found nan or inf)")
    return x


def real_number(name: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number (and > 0 when ``positive``)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()  # a 0-d (or one-element) tensor counts as a number
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def positive_int(name: str, value: object, *, even: bool = False) -> int:
    """Return ``value`` if it is an int >= 1 (and even when ``even``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    if even and value % 2:
        raise ValueError(f"{name} must be even (RoPE rotates pairs of coordinates), got {value}")
    return value


def choice(name: str, value: object, options: tuple) -> object:
    """Return ``value`` if it is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def freqs(name: str, f: object, d: int | None = None) -> torch.Tensor:
    """Return ``f`` if it is a finite 1-D tensor of RoPE frequencies (of length d/2 when ``d`` is given)."""
    tensor(name, f)
    if f.dim() != 1:
        raise ValueError(f"{name} must be 1-D of length d/2, got shape {tuple(f.shape)}")
    finite(name, f)
    if d is not None and f.shape[0] != d // 2:
        raise ValueError(f"{name} must have length d/2 = {d // 2} for d = {d}, got {f.shape[0]}")
    return f


def sum_tolerance(dtype: torch.dtype, n: int) -> float:
    """How far from 1 a sum of ``n`` probabilities in ``dtype`` may be: max(1e-6, 4 n eps)."""
    return max(1e-6, 4 * n * torch.finfo(dtype).eps)


def dim(x: torch.Tensor, dim: int, *, name: str = "x") -> int:
    """Return ``dim`` if it is an int naming an axis of ``x`` along which ``x`` has entries."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise ValueError(f"dim must be an int, got {dim!r}")
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim must lie in [{-x.dim()}, {x.dim() - 1}] for {name} of shape {tuple(x.shape)}, got {dim}")
    if x.shape[dim] == 0:
        raise ValueError(f"{name} must have at least one entry along dim={dim}")
    return dim


_dim = dim  # the checks below take an argument named dim


def probabilities(name: str, p: object, dim: int) -> int:
    """Return ``dim`` if ``p`` holds finite, non-negative rows summing to 1 along it (within sum_tolerance)."""
    tensor(name, p)
    if p.is_complex():
        raise ValueError(f"{name} must be real, got {p.dtype}")
    finite(name, p)
    dim = _dim(p, dim, name=name)
    if bool((p < 0).any()):
        raise ValueError(f"{name} must be non-negative (probabilities; for logits use the *_from_logits variant)")
    off = float((p.sum(dim) - 1).abs().max())
    if off > sum_tolerance(p.dtype, p.shape[dim]):
        raise ValueError(f"{name} must sum to 1 along dim={dim} (worst row is off by {off:.3g})")
    return dim


def logits(name: str, s: object, dim: int) -> int:
    """Return ``dim`` if ``s`` has no nan or +inf and every row along it has an entry above -inf (-inf masks)."""
    tensor(name, s)
    dim = _dim(s, dim, name=name)
    if bool(torch.isnan(s).any()) or bool((s == math.inf).any()):
        raise ValueError(f"{name} must not contain nan or +inf (-inf is allowed: a masked key, log 0)")
    if bool(torch.isneginf(s).all(dim).any()):
        raise ValueError(f"every entry of some row of {name} along dim={dim} is -inf: nothing is left to weigh")
    return dim


def qk(q: object, k: object, *, real: bool = False) -> torch.Size:
    """Check a query/key pair (..., n_q, d), (..., n_k, d); return their broadcast batch shape."""
    tensor("q", q, min_dim=2)
    tensor("k", k, min_dim=2)
    for label, x in (("q", q), ("k", k)):
        if real and x.is_complex():
            raise ValueError(f"{label} must be real, got {x.dtype}")
    if q.dtype != k.dtype:
        raise ValueError(f"q and k must share a dtype, got {q.dtype} and {k.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the head dimension d, got {q.shape[-1]} and {k.shape[-1]}")
    if q.shape[-1] == 0:
        raise ValueError("q and k must have a head dimension d >= 1, got 0")
    try:
        return torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except RuntimeError:
        raise ValueError(f"batch shapes of q {tuple(q.shape)} and k {tuple(k.shape)} do not broadcast") from None


def generator(g: object) -> torch.Generator | None:
    """Return ``g`` if it is a torch.Generator or None."""
    if g is not None and not isinstance(g, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(g).__name__}")
    return g


def order(name: str, value: object, *, low: float, zero: bool = False) -> float:
    """Return a power or Rényi order as a float: a real number (math.inf allowed) above ``low`` (or 0 if ``zero``)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
        raise ValueError(f"{name} must be a real number (math.inf allowed), got {value!r}")
    value = float(value)
    if zero and value == 0:
        return 0.0
    if value <= low or value == -math.inf:
        raise ValueError(f"{name} must be > {low:g}, got {value:g}")
    return value


def seed(value: object, name: str = "seed") -> int:
    """Return ``value`` if it is an int >= 0 (a random seed)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value
