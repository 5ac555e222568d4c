"""Relative position score functions for length extrapolation (post 9431): ALiBi, KERPLE, Sandwich and XPOS.

ALiBi, KERPLE and Sandwich add a bias b(i - j) to logit (i, j) (query i, key j); XPOS scales RoPE's query
and key so that the logit decays with i - j. The biases are float64 over an n x n grid (the score functions
keep their inputs' dtype); ``causal`` variants put -inf above the diagonal (keys j > i, unseen causally).
"""

from __future__ import annotations

import math

import torch

from .. import _checks
from .absolute import sinusoidal
from .rope import _plain_frequencies, apply_rope

KERPLE_KINDS = ("power", "log")


def _distance(n: int) -> torch.Tensor:
    """|i - j| (n, n), float64, for a validated n."""
    _checks.positive_int("n", n)
    idx = torch.arange(n, dtype=torch.float64)
    return (idx[:, None] - idx[None, :]).abs()  # (n, n)


def _mask_future(bias: torch.Tensor) -> torch.Tensor:
    """``bias`` (..., n, n) with -inf where j > i (above the diagonal)."""
    n = bias.shape[-1]
    future = torch.ones(n, n, dtype=torch.bool, device=bias.device).triu(1)  # (n, n): j > i
    return bias.masked_fill(future, -math.inf)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi head slopes (n_heads,), float64: 2^(-8h/H), h = 1..H, for H a power of two. Chapter: local-attention.

    For other H the ALiBi authors' code (``get_slopes``) takes the slopes of the power of two P just below
    H and then every other slope of 2P (h = 1, 3, 5, ...), in order, until there are H: 12 heads get
    1/2, 1/4, ..., 1/256 and then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
    """
    _checks.positive_int("n_heads", n_heads)
    power = 2 ** int(math.floor(math.log2(n_heads)))
    h = torch.arange(1, 2 * power + 1, dtype=torch.float64)
    slopes = 2.0 ** (-8.0 * h[:power] / power)  # (P,)
    extra = 2.0 ** (-8.0 * h[0::2] / (2 * power))  # (P,): slopes of 2P at h = 1, 3, 5, ...
    return torch.cat((slopes, extra[: n_heads - power]))


def alibi_bias(n: int, n_heads: int, causal: bool = False) -> torch.Tensor:
    """ALiBi bias (n_heads, n, n), float64: -slope_h |i - j| added to logit (i, j). Chapter: local-attention.

    Bidirectionally the bias is symmetric (|i - j| = |j - i|), so it cannot tell left from right;
    ``causal=True`` puts -inf above the diagonal, leaving -slope_h (i - j) on and below it.
    """
    distance = _distance(n)  # (n, n)
    bias = -alibi_slopes(n_heads)[:, None, None] * distance  # (n_heads, n, n)
    return _mask_future(bias) if causal else bias


def kerple_bias(n: int, kind: str, r1: float, r2: float, causal: bool = True) -> torch.Tensor:
    """KERPLE bias (n, n), float64: power -r1 |i-j|^r2 or log -r1 log(1 + r2 |i-j|). Chapter: local-attention.

    KERPLE (Chi et al. 2022) trains r1 > 0 and r2 per head; the power kernel needs 0 < r2 <= 2 (its
    code clamps r2 to [0.01, 2]), the log kernel r2 > 0. Power with r2 = 1 is ALiBi with slope r1.
    ``causal=True`` (the paper's language models) puts -inf above the diagonal.
    """
    _checks.choice("kind", kind, KERPLE_KINDS)
    r1 = _checks.real_number("r1", r1, positive=True)
    r2 = _checks.real_number("r2", r2, positive=True)
    if kind == "power" and r2 > 2:
        raise ValueError(f"r2 must be in (0, 2] for the power kernel (|i-j|^r2 is CPD only there), got {r2}")
    distance = _distance(n)  # (n, n)
    bias = -r1 * distance**r2 if kind == "power" else -r1 * torch.log1p(r2 * distance)  # (n, n)
    return _mask_future(bias) if causal else bias


def sandwich_bias(
    n: int, d: int, base: float = 10000.0, scale: float = 1.0, *, n_heads: int | None = None
) -> torch.Tensor:
    """Sandwich bias (n, n), float64: scale p_i.p_j = scale sum_k cos((i-j) theta_k). Chapter: local-attention.

    p is the sinusoidal table of dimension d (the paper's d-bar, 128 in its experiments), theta_k =
    base^(-2k/d), k = 0..d/2-1, so the diagonal is d/2: the paper's bias has no "- d/2" (Su's figure
    subtracts it for display; a constant per row leaves softmax unchanged). With ``n_heads`` the result is
    (n_heads, n, n) and head h = 1..H is divided by the paper's ALiBi-like compression ratio 8h/H.
    """
    _checks.positive_int("n", n)
    theta = _plain_frequencies(d, base)  # (d/2,), validates d and base
    scale = _checks.real_number("scale", scale, positive=True)
    r = torch.arange(n, dtype=torch.float64)
    by_distance = torch.cos(r[:, None] * theta).sum(-1)  # (n,): sum_k cos(r theta_k), r = 0..n-1
    bias = scale * by_distance[_distance(n).long()]  # (n, n): cos is even, so |i - j| suffices
    if n_heads is None:
        return bias
    _checks.positive_int("n_heads", n_heads)
    ratio = 8.0 * torch.arange(1, n_heads + 1, dtype=torch.float64) / n_heads  # (n_heads,): 8h/H
    return bias / ratio[:, None, None]  # (n_heads, n, n)


def sandwich_concat(x: torch.Tensor, d: int, base: float = 10000.0, scale: float = 1.0) -> torch.Tensor:
    """[x_i, sqrt(scale) p_i] (..., n, e + d), x's dtype: Sandwich as one dot product. Chapter: local-attention.

    For queries and keys q, k (..., n, e): concat(q) @ concat(k)^T = q @ k^T + sandwich_bias(n, d, base,
    scale), the post's [q_m, sqrt(lam) p_m]^T [k_n, sqrt(lam) p_n]; the cost is d more dimensions per head.
    """
    _checks.tensor("x", x, min_dim=2)
    scale = _checks.real_number("scale", scale, positive=True)
    p = sinusoidal(x.shape[-2], d, base).to(device=x.device)  # (n, d), validates d and base
    p = (math.sqrt(scale) * p).to(x.dtype).expand(*x.shape[:-1], d)  # (..., n, d)
    return torch.cat((x, p), dim=-1)  # (..., n, e + d)


def _xpos_zeta(d: int, gamma: float) -> torch.Tensor:
    """XPOS base factors zeta_i = (2i/d + gamma) / (1 + gamma), shape (d/2,), float64."""
    _checks.positive_int("d", d, even=True)
    gamma = _checks.real_number("gamma", gamma, positive=True)
    i = torch.arange(d // 2, dtype=torch.float64)
    return (2 * i / d + gamma) / (1 + gamma)  # (d/2,), in [gamma / (1 + gamma), 1)


def xpos_scale(n: int, d: int, gamma: float = 0.4, scale_base: float = 512.0) -> torch.Tensor:
    """XPOS query factors zeta_i^(m / scale_base) (n, d/2), float64, positions m = 0..n-1. Chapter: local-attention.

    zeta_i = (2i/d + gamma) / (1 + gamma) for RoPE pair i (frequency base^(-2i/d)): Sun et al. 2022 and
    torchscale's XPOS (gamma = 0.4, scale_base = 512). The query at m is multiplied by these factors, the
    key at n by their inverses zeta_i^(-n / scale_base), so logit (m, n) carries zeta_i^((m - n) / scale_base).
    """
    _checks.positive_int("n", n)
    zeta = _xpos_zeta(d, gamma)  # (d/2,)
    scale_base = _checks.real_number("scale_base", scale_base, positive=True)
    m = torch.arange(n, dtype=torch.float64)
    return zeta ** (m[:, None] / scale_base)  # (n, d/2)


def xpos_logits(
    q: torch.Tensor,
    k: torch.Tensor,
    positions: object = None,
    gamma: float = 0.4,
    scale_base: float = 512.0,
    base: float = 10000.0,
    *,
    causal: bool = False,
) -> torch.Tensor:
    """XPOS logits (R_m q_m zeta^(m/B)) . (R_n k_n zeta^(-n/B)) (..., n, n), q's dtype. Chapter: local-attention.

    q, k (..., n, d), unscaled (no 1/sqrt(d)), at ``positions`` (n,) (default 0..n-1), interleaved RoPE
    pairs. Only m - n matters, but the factors are formed per position, in float64 and then cast to q's
    dtype: the key factor overflows float32 from ``xpos_overflow_position(gamma, scale_base)`` on, which is
    why XPOS is used causally with bounded positions. Above the diagonal (n > m) the logits grow as
    zeta^(-(n - m)/B); ``causal=True`` masks them with -inf.
    """
    _checks.qk(q, k, real=True)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(f"q and k must share the length n (one set of positions), got {q.shape[-2]}, {k.shape[-2]}")
    n, d = q.shape[-2], q.shape[-1]
    if d % 2:
        raise ValueError(f"q and k must have an even head dimension d (RoPE rotates pairs), got d = {d}")
    zeta = _xpos_zeta(d, gamma).to(q.device)  # (d/2,), validates gamma
    scale_base = _checks.real_number("scale_base", scale_base, positive=True)
    pos = torch.arange(n, dtype=torch.float64) if positions is None else torch.as_tensor(positions, dtype=torch.float64)
    if pos.dim() != 1 or pos.shape[0] != n:
        raise ValueError(f"positions must be 1-D of length n = {n}, got shape {tuple(pos.shape)}")
    pos = _checks.finite("positions", pos).to(q.device)
    freqs = _plain_frequencies(d, base)  # (d/2,), validates base
    exponent = pos[:, None] / scale_base  # (n, 1)
    up = (zeta**exponent).repeat_interleave(2, dim=-1)  # (n, d): zeta_i^(m/B) on coordinates 2i, 2i+1
    down = (zeta**-exponent).repeat_interleave(2, dim=-1)  # (n, d): zeta_i^(-n/B), overflows float32 first
    q_rot = apply_rope(q, pos, freqs) * up.to(q.dtype)  # (..., n, d)
    k_rot = apply_rope(k, pos, freqs) * down.to(k.dtype)  # (..., n, d)
    logits = q_rot @ k_rot.transpose(-1, -2)  # (..., n, n)
    return _mask_future(logits) if causal else logits


def xpos_overflow_position(gamma: float = 0.4, scale_base: float = 512.0, dtype: torch.dtype = torch.float32) -> int:
    """First integer position n whose XPOS key factor zeta_0^(-n/B) exceeds ``dtype``'s max. Chapter: local-attention.

    zeta_0 = gamma / (1 + gamma) is the smallest factor (pair 0, the fastest rotation) whatever d is, so the
    threshold is B ln(max) / ln((1 + gamma) / gamma): about 36 000 in float32 for gamma = 0.4, B = 512.
    """
    gamma = _checks.real_number("gamma", gamma, positive=True)
    scale_base = _checks.real_number("scale_base", scale_base, positive=True)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    n = math.floor(scale_base * math.log(torch.finfo(dtype).max) / math.log((1 + gamma) / gamma)) + 1
    return max(n, 1)
