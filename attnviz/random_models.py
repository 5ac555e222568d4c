"""Random key models of Part I: Gaussian and spherical keys, a needle among them, random projections.

The entropy chapters model a row of attention as one query against n random keys, sometimes with one
relevant key (the "needle", equal to the query) among them; the Johnson-Lindenstrauss chapter
projects points at random. These are the models, with the mean-field entropy of spherical keys.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from . import _checks
from .entropy import entropy_with_extra_key
from .streaming import streaming_softmax_stats


def to_sphere(x: torch.Tensor, d: int | None = None) -> torch.Tensor:
    """The first ``d`` coordinates of rows x (..., D), rescaled to norm sqrt(d). Chapter: entropy-jl-lemma.

    ``d`` defaults to D (all coordinates). Two rows on this sphere have q . k = d cos(angle).
    """
    _checks.tensor("x", x)
    _checks.finite("x", x)
    d = x.shape[-1] if d is None else _checks.positive_int("d", d)
    if d > x.shape[-1]:
        raise ValueError(f"d must be <= the {x.shape[-1]} coordinates of x, got {d}")
    x = x[..., :d]  # (..., d)
    norm = x.norm(dim=-1, keepdim=True)  # (..., 1)
    if bool((norm == 0).any()):
        raise ValueError("x must have no row whose first d coordinates are all zero (it has no direction)")
    return x * (math.sqrt(d) / norm)


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
    k = torch.randn(n, d, generator=_checks.generator(generator), dtype=dtype)  # (n, d)
    return to_sphere(k) if sphere else k


class Needle(NamedTuple):
    """Row statistics of a query among random keys plus one relevant key (all (..., n_q))."""

    entropy: torch.Tensor  # entropy with the needle among the keys (nats)
    weight: torch.Tensor  # the needle's attention weight
    haystack: torch.Tensor  # entropy over the random keys alone (nats)


def needle_entropy(
    q: torch.Tensor,
    keys: torch.Tensor,
    *,
    scale: float | None = None,
    needle: torch.Tensor | None = None,
    block: int = 4096,
) -> Needle:
    """Entropy and needle weight of softmax rows over n random keys plus one needle. Chapter: entropy-invariant-scale.

    The needle is ``needle`` (default: each query itself, so its logit is scale |q|^2, which is
    scale d on the sphere of :func:`to_sphere`); q (..., n_q, d) and keys (..., n, d) as in
    :func:`attnviz.streaming.streaming_softmax_stats`, which reads the keys in blocks. Returns
    (entropy, weight, haystack): with the needle, its weight, and without it.
    """
    log_z, haystack = streaming_softmax_stats(q, keys, scale=scale, block=block)  # (..., n_q) each
    needle = q if needle is None else needle
    _checks.tensor("needle", needle)
    if needle.shape[-1] != q.shape[-1] or needle.dtype != q.dtype:
        raise ValueError(f"needle must have q's dtype and head dimension d = {q.shape[-1]}, got {tuple(needle.shape)}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logit = scale * (q * needle).sum(-1)  # (..., n_q)
    h, p = entropy_with_extra_key(log_z, haystack, logit)
    return Needle(h, p, haystack)


def sphere_entropy_gap(lam: float, d: int, *, points: int = 20001) -> float:
    """Mean-field entropy gap h(lam, d) of softmax over keys on a sphere (7695, 8823). Chapter: entropy-invariant-scale.

    h = log E[e^(lam d cos t)] - lam d E_tilted[cos t], t the angle between random d-dim vectors:
    the entropy of softmax(lam q . k) over n keys of norm sqrt(d) is about log n + h. The angle has
    density proportional to sin(t)^(d-2) on [0, pi]; the integrals use the trapezoid rule on
    ``points`` nodes in log space (about 1e-10 for d <= 4096, |lam| <= 4). h <= 0, h(0, d) = 0.
    """
    lam = _checks.real_number("lam", lam)
    _checks.positive_int("d", d)
    if d < 2:
        raise ValueError(f"d must be >= 2 (in one dimension there is no angle to average over), got {d}")
    points = _checks.positive_int("points", points)
    if points < 3:
        raise ValueError(f"points must be >= 3, got {points}")
    t = lam * d
    theta = torch.linspace(0.0, math.pi, points, dtype=torch.float64)  # (points,)
    log_base = torch.xlogy(torch.tensor(d - 2.0, dtype=torch.float64), torch.sin(theta))  # log sin^(d-2)
    log_tilted = log_base + t * torch.cos(theta)
    base = torch.exp(log_base - log_base.max())
    tilted = torch.exp(log_tilted - log_tilted.max())
    log_mgf = (
        log_tilted.max() + torch.trapezoid(tilted, theta).log() - log_base.max() - torch.trapezoid(base, theta).log()
    )
    mean_cos = torch.trapezoid(tilted * torch.cos(theta), theta) / torch.trapezoid(tilted, theta)
    return float(log_mgf - t * mean_cos)


def random_projection_distortion(x: torch.Tensor, k: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Ratios |P x_i - P x_j|^2 / |x_i - x_j|^2 over pairs i < j, P Gaussian (D, k)/sqrt(k). Chapter: entropy-jl-lemma.

    ``x`` is (n, D); returns the n (n - 1) / 2 ratios (the Johnson-Lindenstrauss lemma bounds how
    far they stray from 1). Each ratio is distributed as chi-squared with k degrees of freedom / k.
    """
    _checks.tensor("x", x, min_dim=2)
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be (n, D) with n >= 2 points, got shape {tuple(x.shape)}")
    _checks.finite("x", x)
    k = _checks.positive_int("k", k)
    _checks.generator(generator)
    before = torch.pdist(x) ** 2  # (n (n - 1) / 2,)
    if bool((before == 0).any()):
        raise ValueError("x must not contain repeated points (a zero distance has no distortion ratio)")
    proj = torch.randn(x.shape[1], k, generator=generator, dtype=x.dtype) / math.sqrt(k)  # (D, k)
    return torch.pdist(x @ proj) ** 2 / before
