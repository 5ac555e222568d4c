"""Rotary position embedding (RoPE): plain frequencies, the rotation, its layouts, angles and decay.

Conventions (the book's notation page): head dimension ``d`` is even, frequencies
``theta_i = base ** (-2 i / d)`` for ``i = 0 .. d/2 - 1``, and RoPE rotates each pair of
coordinates by the angle ``position * theta_i``. The ``"interleaved"`` layout pairs
coordinates ``(2i, 2i+1)`` as in RoFormer; the ``"half"`` layout pairs ``(i, i + d/2)`` as
in LLaMA / GPT-NeoX. The two differ by a fixed permutation of coordinates.
"""

from __future__ import annotations

import math

import torch

from .. import _checks

LAYOUTS = ("interleaved", "half")


def _plain_frequencies(d: int, base: float) -> torch.Tensor:
    """Unscaled, validated RoPE frequencies theta_i = base^(-2i/d), shape (d/2,), float64."""
    _checks.positive_int("d", d, even=True)
    base = _checks.real_number("base", base, positive=True)
    if base == 1.0:
        raise ValueError("base must differ from 1 (every frequency would equal 1)")
    i = torch.arange(d // 2, dtype=torch.float64)
    return base ** (-2.0 * i / d)  # (d/2,)


def _angles(x: torch.Tensor, positions: object, freqs: torch.Tensor) -> torch.Tensor:
    """Validated rotation angles, shape (..., n, d/2), float64."""
    _checks.tensor("x", x)
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"x must have an even last dimension d (RoPE rotates pairs), got d = {d}")
    _checks.freqs("freqs", freqs, d)
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
    _checks.freqs("freqs", freqs)
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
    _checks.freqs("freqs", freqs)
    r = _checks.finite("distances", torch.as_tensor(distances, dtype=torch.float64))
    phases = torch.exp(1j * r[..., None] * freqs.to(torch.float64))  # (..., d/2)
    partial_sums = phases.cumsum(-1)  # S_1 .. S_{d/2}
    return partial_sums.abs().mean(-1)


def rope_angles(positions: object, freqs: torch.Tensor, wrap: bool = False) -> torch.Tensor:
    """Angles n theta_i (..., d/2) of positions n (...,), float64, ``wrap``: in [0, 2 pi). Chapter: rope-beta-base."""
    _checks.freqs("freqs", freqs)
    positions = _checks.finite("positions", torch.as_tensor(positions, dtype=torch.float64))
    angles = positions[..., None] * freqs.to(torch.float64)  # (..., d/2)
    return torch.remainder(angles, 2 * math.pi) if wrap else angles
