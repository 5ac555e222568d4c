"""Sparsity limits of attention rows as the number of keys grows (post 9889, "can attention focus?").

A row of attention weights a_j proportional to f(q . k_j) is measured with the l1/l2 sparsity
index S(a) = mean|a| / sqrt(mean a^2) (:func:`attnviz.sparsity.sparsity_index`, S*_{1,2} of post
9595: 1 for a flat row, 1/sqrt(n) for a one-hot row of n entries). For keys k ~ N(mu, sigma^2 I)
and n -> infinity the row's index tends to E|f(beta + gamma eps)| / sqrt(E f^2(beta + gamma eps))
with eps ~ N(0, 1), beta = q . mu and gamma = sigma |q|: :func:`sparsity_limit` computes it in
closed form for f = exp, relu^2 and identity (in log space, so nothing overflows) or by quadrature
for any f. :func:`row_sparsity` measures finite rows, :func:`linear_sparsity_limit` and
:func:`decay_sparsity` the linear-attention and decay cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch

from . import _checks

FOCUS_FUNCTIONS = ("exp", "relu2", "identity")
_LOG_2PI = math.log(2 * math.pi)
_WINDOW = 12.0  # half-width (in standard deviations of eps) that the quadrature covers
_CF_FROM = 2.0  # relu^2 at beta/gamma < -2: continued fraction instead of cancelling terms
_CF_DEPTH = 80


def _log_abs_f(f: str | Callable, x: torch.Tensor) -> torch.Tensor:
    """log|f(x)| (-inf where f(x) = 0), computed without overflow for the named f."""
    if f == "exp":
        return x
    if f == "relu2":
        return 2 * torch.log(torch.relu(x))
    if f == "identity":
        return torch.log(x.abs())
    y = f(x)
    if not isinstance(y, torch.Tensor) or y.shape != x.shape:
        raise ValueError("f must map a tensor to a tensor of the same shape")
    return torch.log(y.to(torch.float64).abs())


def _check_f(f: object) -> str | Callable:
    if isinstance(f, str):
        return _checks.choice("f", f, FOCUS_FUNCTIONS)
    if not callable(f):
        raise ValueError(f"f must be one of {FOCUS_FUNCTIONS} or a function of a tensor, got {f!r}")
    return f


@lru_cache(maxsize=8)
def _gauss_legendre(points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of the Gauss-Legendre rule on [-1, 1] (Golub-Welsch)."""
    k = torch.arange(1, points, dtype=torch.float64)
    off = k / torch.sqrt(4 * k**2 - 1)
    nodes, vectors = torch.linalg.eigh(torch.diag(off, 1) + torch.diag(off, -1))
    return nodes, 2 * vectors[0] ** 2


def _quadrature(f, beta: torch.Tensor, gamma: torch.Tensor, points: int) -> torch.Tensor:
    """log E|f| - log E f^2 / 2 by Gauss-Legendre on three pieces of the eps axis."""
    kink = -beta / gamma  # relu and |x| are not smooth where beta + gamma eps = 0
    w = torch.full_like(kink, _WINDOW)
    mid = kink.clamp(min=-_WINDOW, max=_WINDOW)
    if f == "exp":  # e^(2 gamma eps) phi(eps) peaks at eps = 2 gamma
        tail = (w, w + 2 * gamma)
    else:  # relu-like f vanish left of a far kink; there phi decays like e^(-kink u)
        start = torch.maximum(w, kink)
        tail = (start, start + w * w / start)
    nodes, weights = _gauss_legendre(points)
    log_w, log_f = [], []
    for a, b in ((-w, mid), (mid, w), tail):
        half = ((b - a) / 2)[..., None]  # (..., 1)
        eps = (a + b)[..., None] / 2 + half * nodes  # (..., points)
        log_w.append(torch.log(weights * half) - eps**2 / 2 - _LOG_2PI / 2)
        log_f.append(_log_abs_f(f, beta[..., None] + gamma[..., None] * eps))
    log_w, log_f = torch.cat(log_w, -1), torch.cat(log_f, -1)  # (..., 3 points)
    first = torch.logsumexp(log_w + log_f, -1)
    second = torch.logsumexp(log_w + 2 * log_f, -1)
    return first - second / 2


def _log_pdf(t: torch.Tensor) -> torch.Tensor:
    return -(t**2) / 2 - _LOG_2PI / 2


def _relu2_log_s(t: torch.Tensor) -> torch.Tensor:
    """log S for f = relu^2 as a function of t = beta / gamma, stable for every t."""
    # t >= 0: S = A / sqrt(B), A = (t^2+1) Phi + t phi, B = (t^4+6t^2+3) Phi + (t^3+5t) phi;
    # for t >= 1 both divided by a power of t so that nothing overflows.
    tp = t.clamp(min=0.0)
    cdf, pdf = torch.special.ndtr(tp), torch.exp(_log_pdf(tp))
    u = 1 / tp.clamp(min=1.0)  # 1/t where t >= 1
    big = tp >= 1
    A = torch.where(big, (1 + u**2) * cdf + u * pdf, (tp**2 + 1) * cdf + tp * pdf)
    B = torch.where(
        big,
        (1 + 6 * u**2 + 3 * u**4) * cdf + (u + 5 * u**3) * pdf,
        (tp**4 + 6 * tp**2 + 3) * cdf + (tp**3 + 5 * tp) * pdf,
    )
    positive = torch.log(A) - torch.log(B) / 2
    # t < 0, x = -t: factor phi(x) out; a_k = int_0^inf u^k e^(-x u - u^2/2) du, so that
    # S = sqrt(phi(x)) a_2 / sqrt(a_4), a_0 = Phi(t)/phi(t) = sqrt(pi/2) erfcx(x/sqrt 2).
    x = (-t).clamp(min=0.0)
    a0 = math.sqrt(math.pi / 2) * torch.special.erfcx(x / math.sqrt(2))
    # near x = 0: a_2 = (x^2+1) a_0 - x, a_4 = (x^4+6x^2+3) a_0 - x^3 - 5x (terms cancel as x grows)
    log_ratio_near = torch.log((x**2 + 1) * a0 - x) - torch.log((x**4 + 6 * x**2 + 3) * a0 - x**3 - 5 * x) / 2
    # x >= 2: the ratios r_k = a_k / a_(k-1) = k / (x + r_(k+1)) by a backward continued fraction
    r = (-x + torch.sqrt(x**2 + 4 * _CF_DEPTH)) / 2  # r_k for large k
    ratios = {}
    for k in range(_CF_DEPTH - 1, 0, -1):
        r = k / (x + r)
        if k <= 4:
            ratios[k] = r
    log_a2 = torch.log(a0 * ratios[1] * ratios[2])
    log_ratio_far = log_a2 / 2 - torch.log(ratios[3] * ratios[4]) / 2  # log a_2 - log a_4 / 2
    log_ratio = torch.where(x < _CF_FROM, log_ratio_near, log_ratio_far)
    negative = _log_pdf(x) / 2 + log_ratio
    return torch.where(t >= 0, positive, negative)


def _closed_log_s(f: str, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    if f == "exp":
        return -(gamma**2) / 2 + 0 * beta
    t = beta / gamma
    if f == "identity":
        return torch.log(
            (math.sqrt(2 / math.pi) * torch.exp(-(t**2) / 2) + t * torch.erf(t / math.sqrt(2)))
            / torch.hypot(torch.ones_like(t), t)
        )
    return _relu2_log_s(t)


def sparsity_limit(
    f: str | Callable[[torch.Tensor], torch.Tensor],
    beta: float | torch.Tensor,
    gamma: float | torch.Tensor,
    *,
    method: str | None = None,
    points: int = 200,
    log: bool = False,
) -> float | torch.Tensor:
    """n -> inf sparsity E|f(beta+gamma eps)| / sqrt(E f^2(beta+gamma eps)), eps ~ N(0,1). Chapter: attention-focus.

    ``f`` is "exp", "relu2" (relu(x)^2), "identity", or a function of a float64 tensor. ``method``
    "closed" (the default for the named f) uses the closed forms, evaluated in log space:
    exp gives exp(-gamma^2/2); relu^2 and identity depend on t = beta/gamma only. "quadrature"
    (the default, and only choice, for a function) integrates against the normal density with
    ``points`` Gauss-Legendre nodes on each side of eps = -beta/gamma, where relu and |x| have
    their kink, over |eps| <= 12 and a piece beyond the kink (for exp: up to 12 beyond the peak at 2 gamma),
    which assumes that a function f grows at most polynomially. ``beta``
    and ``gamma`` (> 0) broadcast; the result is a float when both are numbers. ``log=True``
    returns log S, which stays finite where S itself underflows (relu^2 far below beta = 0).
    """
    f = _check_f(f)
    if method is None:
        method = "quadrature" if callable(f) else "closed"
    _checks.choice("method", method, ("closed", "quadrature"))
    if method == "closed" and callable(f):
        raise ValueError(f"method='closed' needs f to be one of {FOCUS_FUNCTIONS}; use method='quadrature'")
    points = _checks.positive_int("points", points)
    if points < 2:
        raise ValueError(f"points must be >= 2, got {points}")
    scalar = not isinstance(beta, torch.Tensor) and not isinstance(gamma, torch.Tensor)
    b = _as_tensor("beta", beta)
    g = _as_tensor("gamma", gamma)
    if bool((g <= 0).any()):
        raise ValueError("gamma must be > 0 (gamma = sigma |q|; at 0 every key gives the same weight)")
    b, g = torch.broadcast_tensors(b, g)
    if not isinstance(log, bool):
        raise ValueError(f"log must be True or False, got {log!r}")
    log_s = _closed_log_s(f, b, g) if method == "closed" else _quadrature(f, b, g, points)
    out = log_s if log else torch.exp(log_s)
    return float(out) if scalar else out


def _as_tensor(name: str, x: object) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        _checks.tensor(name, x, min_dim=0)
        return _checks.finite(name, x.to(torch.float64))
    return torch.tensor(_checks.real_number(name, x), dtype=torch.float64)


def row_sparsity(
    f: str | Callable[[torch.Tensor], torch.Tensor], q: torch.Tensor, k: torch.Tensor, *, block: int = 65536
) -> torch.Tensor:
    """Sparsity index of the rows a_j = f(q . k_j) over the n keys, (m,) for q (m, d). Chapter: attention-focus.

    Streams over blocks of ``block`` keys and accumulates log sum|a| and log sum a^2 in log space,
    so f = "exp" with large logits does not overflow and n can exceed memory for an (m, n) matrix.
    ``f`` as in :func:`sparsity_limit`. A row with every a_j = 0 gives nan.
    """
    f = _check_f(f)
    _checks.tensor("q", q)
    _checks.qk(q[None] if q.dim() == 1 else q, k)  # q as (m, d)
    if k.dim() != 2 or q.dim() > 2:
        raise ValueError(f"q must be (d,) or (m, d) and k (n, d), got shapes {tuple(q.shape)}, {tuple(k.shape)}")
    _checks.finite("q", q)
    _checks.finite("k", k)
    block = _checks.positive_int("block", block)
    qs = q.reshape(-1, q.shape[-1])  # (m, d)
    first = torch.full((qs.shape[0],), -math.inf, dtype=torch.float64)
    second = first.clone()
    for start in range(0, k.shape[0], block):
        s = (qs @ k[start : start + block].T).to(torch.float64)  # (m, block)
        log_a = _log_abs_f(f, s)
        first = torch.logaddexp(first, torch.logsumexp(log_a, -1))
        second = torch.logaddexp(second, torch.logsumexp(2 * log_a, -1))
    out = torch.exp(first - second / 2 - math.log(k.shape[0]) / 2)
    return out.reshape(q.shape[:-1])


def linear_sparsity_limit(q: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """Limit (1 + q^T cov q / (q^T mu)^2)^(-1/2) of a_j = q . k_j, keys of mean mu, cov cov. Chapter: attention-focus.

    ``q`` (..., d) are the (feature-mapped) queries, ``mu`` (d,) and ``cov`` (d, d) the mean and
    covariance of the (feature-mapped) keys. Requires q^T mu > 0, as for non-negative features.
    """
    for name, x in (("q", q), ("mu", mu), ("cov", cov)):
        _checks.tensor(name, x)
        _checks.finite(name, x)
    d = q.shape[-1]
    if mu.shape != (d,) or cov.shape != (d, d):
        raise ValueError(f"mu must be ({d},) and cov ({d}, {d}) for q of shape {tuple(q.shape)}")
    mean = q @ mu  # (...)
    if bool((mean <= 0).any()):
        raise ValueError("q . mu must be > 0 (a positive mean weight, as for non-negative features)")
    spread = ((q @ cov) * q).sum(-1)  # q^T cov q, (...)
    if bool((spread < -1e-12 * mean**2).any()):
        raise ValueError("cov must be positive semi-definite (q^T cov q < 0 found)")
    return (1 + spread / mean**2).rsqrt()


def decay_sparsity(lam: float | torch.Tensor, n: int | torch.Tensor) -> float | torch.Tensor:
    """Sparsity of the decay row (lam^(n-1), ..., lam, 1), closed form (post 9889). Chapter: attention-focus.

    S = sqrt((1 - lam^n)(1 + lam) / (n (1 - lam)(1 + lam^n))).

    ``lam`` in [0, 1] (1 gives a flat row, S = 1; 0 a one-hot row, S = 1/sqrt(n)); ``n`` >= 1
    keys. Evaluated with expm1 so that lam close to 1 loses no digits. Arguments broadcast; the
    result is a float when both are numbers.
    """
    scalar = not isinstance(lam, torch.Tensor) and not isinstance(n, torch.Tensor)
    lam_t = _as_tensor("lam", lam)
    if bool(((lam_t < 0) | (lam_t > 1)).any()):
        raise ValueError("lam must lie in [0, 1]")
    if isinstance(n, torch.Tensor):
        if n.is_floating_point() or n.is_complex() or bool((n < 1).any()):
            raise ValueError("n must be an integer tensor with every entry >= 1")
        n_t = n.to(torch.float64)
    else:
        n_t = torch.tensor(float(_checks.positive_int("n", n)), dtype=torch.float64)
    lam_t, n_t = torch.broadcast_tensors(lam_t, n_t)
    log_lam = torch.log(lam_t)
    ratio = torch.expm1(n_t * log_lam) / torch.expm1(log_lam)  # sum_{j<n} lam^j
    ratio = torch.where(lam_t == 1, n_t, ratio)
    out = torch.sqrt(ratio * (1 + lam_t) / (n_t * (1 + torch.exp(n_t * log_lam))))
    return float(out) if scalar else out
