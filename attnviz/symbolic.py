"""Exact (sympy) rotation matrices for the chapters' derivations: one 2x2 rotation and the RoPE block matrix.

``rope_matrix(m, thetas)`` is R_m, the d x d matrix that rotates pair i by the angle m * theta_i, in
either coordinate layout: "interleaved" pairs (2i, 2i + 1), as in the RoFormer paper, or "half" pairs
(i, i + d/2), as in Llama and GPT-NeoX. Only sympy is imported here (no torch, no plotting).
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

LAYOUTS = ("interleaved", "half")


def _expr(name: str, x: object) -> sp.Expr:
    """``x`` as a sympy expression, or a ValueError naming the argument."""
    try:
        expr = sp.sympify(x, strict=True)
    except (sp.SympifyError, TypeError):
        raise ValueError(f"{name} must be a number or a sympy expression, got {x!r}") from None
    if not isinstance(expr, sp.Expr) or expr.is_Matrix:
        raise ValueError(f"{name} must be a scalar sympy expression, got {type(expr).__name__}")
    return expr


def _thetas(thetas: Sequence[object]) -> list[sp.Expr]:
    if isinstance(thetas, (str, bytes)) or not isinstance(thetas, Sequence) or len(thetas) == 0:
        raise ValueError(f"thetas must be a non-empty sequence of frequencies (one per pair), got {thetas!r}")
    return [_expr(f"thetas[{i}]", t) for i, t in enumerate(thetas)]


def rotation(t: object) -> sp.Matrix:
    """2x2 rotation matrix [[cos t, -sin t], [sin t, cos t]] by the angle ``t``. Chapter: rope-rotation."""
    t = _expr("t", t)
    return sp.Matrix([[sp.cos(t), -sp.sin(t)], [sp.sin(t), sp.cos(t)]])


def rope_matrix(position: object, thetas: Sequence[object], layout: str = "interleaved") -> sp.Matrix:
    """RoPE matrix R_position (d, d), d = 2 len(thetas), pair i turned by position * theta_i. Chapter: rope-rotation."""
    position, thetas = _expr("position", position), _thetas(thetas)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    angles = [position * t for t in thetas]
    if layout == "interleaved":
        return sp.diag(*[rotation(a) for a in angles])  # blocks on the diagonal: pairs (2i, 2i + 1)
    c = sp.diag(*[sp.cos(a) for a in angles])  # (d/2, d/2)
    s = sp.diag(*[sp.sin(a) for a in angles])
    return sp.BlockMatrix([[c, -s], [s, c]]).as_explicit()  # pairs (i, i + d/2)


def half_permutation(d: int) -> sp.Matrix:
    """Permutation matrix P (d, d) with x_half = P x_interleaved, so R_half = P R_int P^T. Chapter: real-attention."""
    if isinstance(d, bool) or not isinstance(d, int) or d < 2 or d % 2:
        raise ValueError(f"d must be an even int >= 2 (RoPE rotates pairs of coordinates), got {d!r}")
    order = list(range(0, d, 2)) + list(range(1, d, 2))  # row i of P picks interleaved coordinate order[i]
    return sp.Matrix(d, d, lambda i, j: 1 if order[i] == j else 0)
