"""Entropy normalization: move a distribution to a prescribed entropy by a power transform.

The power transform ``p -> p**gamma / sum(p**gamma)`` keeps the order of the entries and, for
``gamma`` from 0 to infinity, sweeps the entropy from ``log m`` (uniform over the ``m`` nonzero
entries) down to ``log t`` (uniform over the ``t`` entries tied at the maximum). Zeros stay zero
for every ``gamma`` (the ``gamma -> 0`` limit included) and ties stay tied, so these are the only
entropies a power transform can reach. :func:`entropy_normalize` solves for ``gamma`` row by row
with a safeguarded Newton iteration in float64 and applies the transform.

Conventions shared by every function here:

* ``p`` holds probabilities along ``dim`` (non-negative, finite, summing to 1 within the tolerance
  of :func:`attnviz.entropy.entropy`); the other dimensions are rows, solved independently.
* Ties are exact equality of the entries of ``p`` as given (in its own dtype).
* ``target`` is in nats, a number or a tensor that broadcasts to the rows' shape (``p.shape``
  without ``dim``). A target within ``SNAP`` of an end of a row's range ``[log t, log m]`` is
  taken to be that end; one further outside raises ``ValueError``. In particular target 0 means
  one-hot on the argmax, and is reachable only when the maximum is unique.
* Computation is float64 without autograd; results are returned in ``p``'s dtype and device.
"""

from __future__ import annotations

import math

import torch

from . import _checks
from .entropy import entropy  # noqa: F401  (importable from here since 0.1)

SNAP = 1e-12  # targets this close to an end of the reachable range are taken to be that end
TOL = 1e-12  # default |H - target| at which the Newton iteration stops


def _rows(p: torch.Tensor, dim: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Validate p and return it as float64 rows (R, n) with the rows' shape."""
    dim = _checks.probabilities("p", p, dim)
    x = p.detach().to(torch.float64).movedim(dim, -1)
    return x.reshape(-1, x.shape[-1]), tuple(x.shape[:-1])


def _per_row(name: str, value: object, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Broadcast a number or tensor to the rows' shape, flattened to (R,) float64."""
    if isinstance(value, torch.Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise ValueError(f"{name} must be real, got {value.dtype}")
        t = value.detach().to(device=device, dtype=torch.float64)
    else:
        t = torch.tensor(_checks.real_number(name, value), dtype=torch.float64, device=device)
    if bool(torch.isnan(t).any()):
        raise ValueError(f"{name} must not contain nan")
    try:
        t = torch.broadcast_to(t, shape)
    except RuntimeError:
        raise ValueError(f"{name} of shape {tuple(t.shape)} must broadcast to the rows' shape {shape}") from None
    return t.reshape(-1)


def _centered_logs(x: torch.Tensor) -> torch.Tensor:
    """log p - log max p on the support, -inf off it, shape (R, n)."""
    w = torch.where(x > 0, torch.log(torch.where(x > 0, x, 1)), -math.inf)
    return w - w.max(-1, keepdim=True).values


def _logits(w: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """gamma * w with the limits gamma = 0 (uniform on the support) and inf (uniform on the maxima)."""
    g = gamma[:, None]
    z = torch.where(w == 0, 0.0, g * w)  # the maxima (w = 0) stay at 0, also for gamma = inf
    return torch.where(w == -math.inf, -math.inf, z)  # zeros of p stay zero, also for gamma = 0


def _entropy_and_variance(w: torch.Tensor, gamma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entropy of softmax(gamma w) and the variance of w under it, per row (R,)."""
    z = _logits(w, gamma)
    q = torch.softmax(z, -1)
    on = q > 0
    qz = torch.where(on, q * z, 0.0).sum(-1)
    h = torch.logsumexp(z, -1) - qz
    mean_w = torch.where(on, q * w, 0.0).sum(-1, keepdim=True)
    var = torch.where(on, q * (w - mean_w) ** 2, 0.0).sum(-1)
    return h, var


def entropy_range(p: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Entropies [log t, log m] reachable by power transforms (t maxima, m nonzeros). Chapter: entropy-normalization.

    Returns two float64 tensors of the rows' shape (``p.shape`` without ``dim``).
    """
    x, shape = _rows(p, dim)
    t = (x == x.max(-1, keepdim=True).values).sum(-1)  # (R,) entries tied at the maximum
    m = (x > 0).sum(-1)  # (R,) support size
    return t.double().log().reshape(shape), m.double().log().reshape(shape)


def power_transform(p: torch.Tensor, gamma: float | torch.Tensor, dim: int = -1) -> torch.Tensor:
    """p**gamma / sum(p**gamma) along dim for gamma in [0, inf], zeros kept at zero. Chapter: entropy-normalization.

    ``gamma`` broadcasts to the rows' shape; 0 gives the uniform distribution on the support of
    ``p`` and ``inf`` the uniform distribution on its maxima (the limits of the transform).
    """
    x, shape = _rows(p, dim)
    g = _per_row("gamma", gamma, shape, x.device)
    if bool((g < 0).any()):
        raise ValueError(f"gamma must be >= 0 (a negative power reverses the order), got min {float(g.min()):.6g}")
    q = torch.softmax(_logits(_centered_logs(x), g), -1)  # (R, n)
    return q.reshape(*shape, -1).movedim(-1, dim).to(p.dtype)


def _check_reachable(target: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> None:
    bad = (target < low - SNAP) | (target > high + SNAP)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"target must lie in the reachable range [log t, log m] of every row (t = entries tied at the "
            f"maximum, m = nonzero entries); row {i} has range [{float(low[i]):.12g}, {float(high[i]):.12g}] "
            f"and target {float(target[i]):.12g} ({int(bad.sum())} row(s) out of range)"
        )


def solve_gamma(
    p: torch.Tensor, target: float | torch.Tensor, dim: int = -1, *, tol: float = TOL, max_iter: int = 100
) -> torch.Tensor:
    """Exponent gamma >= 0 per row giving the power transform entropy target. Chapter: entropy-normalization.

    Newton's method on gamma, started at 1 as in the post, kept inside a bracket [lo, hi] with
    H(lo) >= target >= H(hi); a step that leaves the bracket or fails to halve |H - target| is
    replaced by a (geometric) bisection. Stops when |H - target| <= ``tol`` or the bracket reaches
    float64 resolution; raises RuntimeError if some row needs more than ``max_iter`` steps.
    Returns float64 of the rows' shape: 0 where the target is log m, inf where it is log t (and
    the maximum is not the whole support), 1 where the range is a single point (uniform on the support).
    """
    x, shape = _rows(p, dim)
    target = _per_row("target", target, shape, x.device)
    tol = _checks.real_number("tol", tol, positive=True)
    max_iter = _checks.positive_int("max_iter", max_iter)
    w = _centered_logs(x)  # (R, n)
    low = (w == 0).sum(-1).double().log()
    high = (w > -math.inf).sum(-1).double().log()
    _check_reachable(target, low, high)
    gamma = torch.ones_like(target)
    gamma = torch.where((target >= high - SNAP) & (low < high), 0.0, gamma)
    gamma = torch.where((target <= low + SNAP) & (low < high), math.inf, gamma)
    active = (target > low + SNAP) & (target < high - SNAP)
    lo, hi = torch.zeros_like(target), torch.full_like(target, math.inf)
    prev = torch.full_like(target, math.inf)  # |H - target| of the previous step
    for step in range(max_iter + 1):
        h, var = _entropy_and_variance(w, gamma)
        f = h - target  # decreasing in gamma
        collapsed = hi.isfinite() & ((hi - lo) <= 4 * torch.finfo(torch.float64).eps * hi)
        active &= (f.abs() > tol) & ~collapsed
        if not bool(active.any()):
            return gamma.reshape(shape)
        if step == max_iter:
            break
        lo = torch.where(active & (f > 0), gamma, lo)
        hi = torch.where(active & (f < 0), gamma, hi)
        newton = gamma + f / (gamma * var)  # gamma - f / (dH/dgamma), dH/dgamma = -gamma var
        bisect = torch.where(hi.isinf(), 4 * lo, torch.where(lo == 0, hi / 4, (lo * hi).sqrt()))
        ok = (newton > lo) & (newton < hi) & (f.abs() <= 0.5 * prev)
        gamma = torch.where(active, torch.where(ok, newton, bisect), gamma)
        prev = torch.where(active, f.abs(), prev)
    raise RuntimeError(f"solve_gamma: {int(active.sum())} row(s) not converged to tol={tol:g} in max_iter={max_iter}")


def entropy_normalize(p: torch.Tensor, target: float | torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The power transform of p whose entropy along dim equals target (nats). Chapter: entropy-normalization.

    ``target`` is a number or a tensor broadcasting to the rows' shape, within each row's range
    [log t, log m] (see :func:`entropy_range`): target log m gives the uniform distribution on the
    support of p, target log t the uniform distribution on its maxima (one-hot when the maximum
    is unique, so target 0 means one-hot on the argmax). Order, ties and zeros of p are kept.
    Accurate to about 1e-12 nats in float64; bad p or an unreachable target raise ValueError.
    """
    gamma = solve_gamma(p, target, dim)
    return power_transform(p, gamma, dim)
