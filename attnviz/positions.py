"""Position encodings: sinusoidal tables and rotary position embedding (RoPE).

Conventions (the book's notation page): head dimension ``d`` is even, frequencies
``theta_i = base ** (-2 i / d)`` for ``i = 0 .. d/2 - 1``, and RoPE rotates each pair of
coordinates by the angle ``position * theta_i``. The ``"interleaved"`` layout pairs
coordinates ``(2i, 2i+1)`` as in RoFormer; the ``"half"`` layout pairs ``(i, i + d/2)`` as
in LLaMA / GPT-NeoX. The two differ by a fixed permutation of coordinates.
"""

from __future__ import annotations

import math

import torch

from . import _checks

LAYOUTS = ("interleaved", "half")
SCALINGS = (None, "linear", "ntk", "ntk-fixed", "ntk-mixed", "yarn")


def sinusoidal(n: int, d: int, base: float = 10000.0) -> torch.Tensor:
    """Sinusoidal table (n, d): p[k, 2i] = sin(k theta_i), p[k, 2i+1] = cos(k theta_i). Chapter: rope-rotation."""
    _checks.positive_int("n", n)
    freqs = rope_frequencies(d, base)  # (d/2,)
    angles = torch.arange(n, dtype=torch.float64)[:, None] * freqs  # (n, d/2)
    return torch.stack((angles.sin(), angles.cos()), dim=-1).reshape(n, d)


def rope_frequencies(
    d: int,
    base: float = 10000.0,
    scaling: str | None = None,
    factor: float = 1.0,
    *,
    mix: float = 0.625,
    train_len: int | None = None,
    alpha: float = 1.0,
    beta: float = 32.0,
) -> torch.Tensor:
    """Frequencies theta_i = base^(-2i/d), shape (d/2,), float64, optionally scaled. Chapter: rope-rotation.

    ``scaling=None`` uses ``factor`` not at all. ``"linear"`` (position interpolation) divides every
    frequency by ``factor``; ``"ntk"`` (NTK-aware) replaces the base by ``base * factor ** (d / (d - 2))``.
    The schedules of the length-extrapolation chapters multiply theta_i (i = 0 .. d/2 - 1) by
    ``"ntk-fixed"``: lam^-(i+1) with lam = factor^(2/d); ``"ntk-mixed"``: exp(-a (i+1)^mix) with
    a = ln(factor) / (d/2)^mix (mix = 1 is ntk-fixed, mix = 0 is linear); ``"yarn"``:
    g_i + (1 - g_i) / factor with g_i = clip((r_i - alpha) / (beta - alpha), 0, 1) and r_i = theta_i
    train_len / (2 pi) the turns pair i makes in training (``train_len`` required).
    """
    _checks.positive_int("d", d, even=True)
    base = _checks.real_number("base", base, positive=True)
    factor = _checks.real_number("factor", factor, positive=True)
    _checks.choice("scaling", scaling, SCALINGS)
    if base == 1.0:
        raise ValueError("base must differ from 1 (every frequency would equal 1)")
    if scaling == "ntk":
        if d == 2:
            raise ValueError("scaling='ntk' needs d >= 4 (the new base is base * factor ** (d / (d - 2)))")
        base = base * factor ** (d / (d - 2))
    i = torch.arange(d // 2, dtype=torch.float64)
    theta = base ** (-2.0 * i / d)  # (d/2,)
    if scaling == "linear":
        return theta / factor
    if scaling in ("ntk-fixed", "ntk-mixed"):
        mix = 1.0 if scaling == "ntk-fixed" else _checks.real_number("mix", mix)
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"mix must be in [0, 1] (the digits' bases must not increase), got {mix}")
        a = math.log(factor) / (d / 2) ** mix
        return theta * torch.exp(-a * (i + 1) ** mix)
    if scaling == "yarn":
        if train_len is None:
            raise ValueError("scaling='yarn' needs train_len (the turns r_i are counted over the training length)")
        _checks.positive_int("train_len", train_len)
        alpha, beta = _checks.real_number("alpha", alpha), _checks.real_number("beta", beta)
        if not beta > alpha:
            raise ValueError(f"beta must exceed alpha (turn thresholds of the ramp), got alpha={alpha}, beta={beta}")
        turns = theta * train_len / (2 * math.pi)  # (d/2,)
        g = ((turns - alpha) / (beta - alpha)).clamp(0.0, 1.0)
        return theta * (g + (1 - g) / factor)
    return theta


def rerope_positions(n: int, window: int, leak: float | None = None) -> torch.Tensor:
    """Relative positions (n, n) that ReRoPE (``leak=None``) or Leaky ReRoPE uses. Chapter: train-short-test-long.

    Entry (i, j) for j <= i is i - j below the window and w + (i - j - w) / leak from it on (ReRoPE:
    min(i - j, w)). Entries above the diagonal are i - j (negative); a causal mask hides them.
    """
    _checks.positive_int("n", n)
    _checks.positive_int("window", window)
    if leak is not None and _checks.real_number("leak", leak, positive=True) < 1:
        raise ValueError(f"leak must be >= 1 (it compresses distances beyond the window), got {leak}")
    idx = torch.arange(n, dtype=torch.float64)
    rel = idx[:, None] - idx[None, :]  # (n, n): i - j
    far = torch.full_like(rel, float(window)) if leak is None else window + (rel - window) / leak
    return torch.where(rel < window, rel, far)


def rerope_scores(
    q: torch.Tensor,
    k: torch.Tensor,
    freqs: torch.Tensor,
    window: int,
    leak: float | None = None,
    layout: str = "interleaved",
) -> torch.Tensor:
    """ReRoPE / Leaky ReRoPE logits q_i^T R_(-P'_ij) k_j (..., n, n), two passes. Chapter: train-short-test-long.

    Pass one is ordinary RoPE (positions i and j); pass two rotates the query to w + (i - w) / leak and the
    key to j / leak (ReRoPE: the query by w, the key not at all); entry (i, j) comes from pass one when
    i - j < w. q and k are (..., n, d), unscaled. Equal to rotating by ``rerope_positions`` one pair at a time.
    """
    _checks.tensor("q", q, min_dim=2)
    _checks.tensor("k", k, min_dim=2)
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape (..., n, d), got {tuple(q.shape)} and {tuple(k.shape)}")
    n = q.shape[-2]
    rel = rerope_positions(n, window, leak).to(q.device)  # validates window and leak
    pos = torch.arange(n, dtype=torch.float64, device=q.device)
    near = apply_rope(q, pos, freqs, layout) @ apply_rope(k, pos, freqs, layout).transpose(-1, -2)
    if leak is None:
        far = apply_rope(q, torch.full_like(pos, float(window)), freqs, layout) @ k.transpose(-1, -2)
    else:
        q_far = apply_rope(q, window + (pos - window) / leak, freqs, layout)
        far = q_far @ apply_rope(k, pos / leak, freqs, layout).transpose(-1, -2)
    return torch.where(rel < window, near, far)  # (..., n, n)


def _angles(x: torch.Tensor, positions: object, freqs: torch.Tensor) -> torch.Tensor:
    """Validated rotation angles, shape (..., n, d/2), float64."""
    _checks.tensor("x", x)
    _checks.tensor("freqs", freqs)
    if freqs.dim() != 1:
        raise ValueError(f"freqs must be 1-D of length d/2, got shape {tuple(freqs.shape)}")
    _checks.finite("freqs", freqs)
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"x must have an even last dimension d (RoPE rotates pairs), got d = {d}")
    if freqs.shape[0] != d // 2:
        raise ValueError(f"freqs must have length d/2 = {d // 2} for x with d = {d}, got {freqs.shape[0]}")
    positions = torch.as_tensor(positions, dtype=torch.float64, device=x.device)
    if positions.dim() == 0 or positions.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"positions must have a last dimension equal to n = x.shape[-2] = {x.shape[-2]}, "
            f"got shape {tuple(positions.shape)}"
        )
    _checks.finite("positions", positions)
    angles = positions[..., None] * freqs.to(device=x.device, dtype=torch.float64)  # (..., n, d/2)
    try:
        torch.broadcast_shapes(angles.shape, x.shape[:-1] + (d // 2,))
    except RuntimeError:
        raise ValueError(
            f"positions of shape {tuple(positions.shape)} do not broadcast against x of shape {tuple(x.shape)}"
        ) from None
    return angles


def apply_rope(x: torch.Tensor, positions: object, freqs: torch.Tensor, layout: str = "interleaved") -> torch.Tensor:
    """Rotate x (..., n, d) by RoPE at ``positions`` (n,) or (..., n); same shape and dtype. Chapter: rope-rotation.

    Angles are formed in float64 before casting, so large positions lose no precision in float32.
    Negative positions are allowed: RoPE is a rotation, and only position differences matter.
    """
    _checks.choice("layout", layout, LAYOUTS)
    angles = _angles(x, positions, freqs)  # (..., n, d/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    if layout == "interleaved":
        x0, x1 = x[..., 0::2], x[..., 1::2]  # (..., n, d/2) each: the pairs (2i, 2i+1)
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)
    half = x.shape[-1] // 2
    x0, x1 = x[..., :half], x[..., half:]  # the pairs (i, i + d/2)
    return torch.cat((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)


def rotation_matrix(position: float, freqs: torch.Tensor) -> torch.Tensor:
    """Block-diagonal RoPE matrix R_position (d, d), interleaved layout, float64. Chapter: rope-rotation."""
    _checks.real_number("position", position)
    _checks.tensor("freqs", freqs)
    if freqs.dim() != 1:
        raise ValueError(f"freqs must be 1-D of length d/2, got shape {tuple(freqs.shape)}")
    angles = position * freqs.to(torch.float64)  # (d/2,)
    c, s = angles.cos(), angles.sin()
    blocks = torch.stack((torch.stack((c, -s), -1), torch.stack((s, c), -1)), -2)  # (d/2, 2, 2)
    return torch.block_diag(*blocks)


def interleaved_to_half(d: int) -> torch.Tensor:
    """Permutation (d,) from the interleaved to the half layout: x_half = x[..., perm]. Chapter: rope-rotation."""
    _checks.positive_int("d", d, even=True)
    return torch.cat((torch.arange(0, d, 2), torch.arange(1, d, 2)))


def rope_decay(distances: object, freqs: torch.Tensor) -> torch.Tensor:
    """Relative size F(r) = (2/d) sum_{j=1}^{d/2} |sum_{i<j} exp(i r theta_i)| (RoPE decay). Chapter: rope-rotation.

    ``distances`` r of any shape; returns float64 of the same shape. F is the factor that bounds
    |q^T R_r k| by Abel summation (the long-range decay argument of RoPE).
    """
    _checks.tensor("freqs", freqs)
    if freqs.dim() != 1:
        raise ValueError(f"freqs must be 1-D, got shape {tuple(freqs.shape)}")
    r = _checks.finite("distances", torch.as_tensor(distances, dtype=torch.float64))
    phases = torch.exp(1j * r[..., None] * freqs.to(torch.float64))  # (..., d/2)
    partial_sums = phases.cumsum(-1)  # S_1 .. S_{d/2}
    return partial_sums.abs().mean(-1)


def beta_digits(n: object, beta: float, num_digits: int, floor: bool = True) -> torch.Tensor:
    """Digits (..., num_digits) of n, lowest first: digit m = floor(n / beta^(m-1)) mod beta. Chapter: rope-beta-base.

    ``beta`` is any real > 1 (RoPE's beta = base^(2/d) is not an integer). With ``floor=False`` the quotient
    is not rounded down, so digit m is the sawtooth (n / beta^(m-1)) mod beta. Float64; n finite and >= 0.
    """
    beta = _checks.real_number("beta", beta, positive=True)
    if beta <= 1.0:
        raise ValueError(f"beta must be > 1 (a base of a positional number system), got {beta}")
    _checks.positive_int("num_digits", num_digits)
    n = _checks.finite("n", torch.as_tensor(n, dtype=torch.float64))
    if bool((n < 0).any()):
        raise ValueError("n must be >= 0 everywhere (digits of a non-negative number)")
    powers = torch.full((num_digits,), beta, dtype=torch.float64).cumprod(0) / beta  # beta^0 .. beta^(M-1), exact
    quotients = n[..., None] / powers  # (..., num_digits)
    return torch.remainder(quotients.floor() if floor else quotients, beta)


def rope_angles(positions: object, freqs: torch.Tensor, wrap: bool = False) -> torch.Tensor:
    """Angles n theta_i (..., d/2) of positions n (...,), float64, ``wrap``: in [0, 2 pi). Chapter: rope-beta-base."""
    _checks.tensor("freqs", freqs)
    if freqs.dim() != 1:
        raise ValueError(f"freqs must be 1-D of length d/2, got shape {tuple(freqs.shape)}")
    _checks.finite("freqs", freqs)
    positions = _checks.finite("positions", torch.as_tensor(positions, dtype=torch.float64))
    angles = positions[..., None] * freqs.to(torch.float64)  # (..., d/2)
    return torch.remainder(angles, 2 * math.pi) if wrap else angles


def angle_overshoot(
    freqs: torch.Tensor, scaled_freqs: torch.Tensor, train_len: int, test_len: int, full_turns_seen: bool = True
) -> torch.Tensor:
    """Per pair (d/2,), trained position steps by which test angles pass trained ones. Chapter: rope-beta-base.

    Training at positions 0 .. train_len - 1 with ``freqs`` shows pair i angles up to (train_len - 1) theta_i;
    testing at 0 .. test_len - 1 with ``scaled_freqs`` reaches (test_len - 1) theta'_i. The overshoot is
    max(0, (test_len - 1) theta'_i / theta_i - (train_len - 1)). With ``full_turns_seen`` it is 0 for a pair whose
    trained angles already went once round the circle, (train_len - 1) theta_i >= 2 pi.
    """
    for name, f in (("freqs", freqs), ("scaled_freqs", scaled_freqs)):
        _checks.tensor(name, f)
        if f.dim() != 1:
            raise ValueError(f"{name} must be 1-D of length d/2, got shape {tuple(f.shape)}")
        if not bool((_checks.finite(name, f) > 0).all()):
            raise ValueError(f"{name} must be > 0 everywhere")
    if freqs.shape != scaled_freqs.shape:
        raise ValueError(
            f"scaled_freqs must have the shape of freqs {tuple(freqs.shape)}, got {tuple(scaled_freqs.shape)}"
        )
    _checks.positive_int("train_len", train_len)
    _checks.positive_int("test_len", test_len)
    theta, theta_new = freqs.to(torch.float64), scaled_freqs.to(torch.float64)
    overshoot = ((test_len - 1) * theta_new / theta - (train_len - 1)).clamp(min=0.0)  # (d/2,)
    if full_turns_seen:
        overshoot = torch.where((train_len - 1) * theta >= 2 * math.pi, 0.0, overshoot)
    return overshoot
