"""Position schemes from the survey (post 8130) and the hierarchical extension of a learned table (post 7947).

T5 buckets a relative position (key minus query) into a few learned scalars per head; Shaw et al. and NEZHA
clip it to [-clip, clip] and learn one vector per value; Su's hierarchical decomposition rebuilds n^2
absolute positions from a trained (n, d) table, keeping the first n rows exactly.
"""

from __future__ import annotations

import math

import torch

from .. import _checks


def _t5_halves(bidirectional: bool, num_buckets: int, max_distance: int) -> tuple[int, int]:
    """(buckets per direction, exact buckets) for validated T5 settings."""
    if not isinstance(bidirectional, bool):
        raise ValueError(f"bidirectional must be a bool, got {bidirectional!r}")
    _checks.positive_int("num_buckets", num_buckets)
    _checks.positive_int("max_distance", max_distance)
    per_side = num_buckets // 2 if bidirectional else num_buckets
    exact = per_side // 2
    if exact < 1:
        need = 4 if bidirectional else 2
        raise ValueError(f"num_buckets must be >= {need} (bidirectional={bidirectional}), got {num_buckets}")
    if max_distance <= exact:
        raise ValueError(f"max_distance must exceed the {exact} exact buckets, got {max_distance}")
    return per_side, exact


def t5_bucket(
    relative_position: torch.Tensor, *, bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128
) -> torch.Tensor:
    """T5's bucket (int64, same shape) of each relative position key - query. Chapter: none yet.

    Bidirectionally half the buckets serve keys before the query and half keys after it (those get an
    offset of num_buckets // 2); causally keys after the query all share bucket 0. Within a direction of B
    buckets, distances 0..B/2 - 1 get their own bucket, larger ones a log-spaced bucket
    B/2 + floor(log(r / (B/2)) / log(max_distance / (B/2)) * B/2), capped at B - 1 (reached at max_distance).
    The log is taken in float32, as in Mesh TensorFlow's T5 and transformers: on a bucket boundary float64
    can disagree (9 buckets causally, max_distance 128: distance 8 gets bucket 5 in float32, 4 in float64).
    """
    if not isinstance(relative_position, torch.Tensor) or relative_position.is_floating_point():
        raise ValueError("relative_position must be an integer torch.Tensor (key position minus query position)")
    if relative_position.is_complex() or relative_position.dtype == torch.bool:
        raise ValueError(f"relative_position must have an integer dtype, got {relative_position.dtype}")
    per_side, exact = _t5_halves(bidirectional, num_buckets, max_distance)
    rel = relative_position.to(torch.int64)  # (...): key - query
    if bidirectional:
        offset = (rel > 0).to(torch.int64) * per_side  # (...): keys after the query use the upper half
        distance = rel.abs()  # (...)
    else:
        offset = torch.zeros_like(rel)  # (...)
        distance = (-rel).clamp(min=0)  # (...): keys after the query count as distance 0
    ratio = distance.clamp(min=exact).to(torch.float32) / exact  # (...) >= 1, so the log is finite
    steps = torch.log(ratio) / math.log(max_distance / exact) * (per_side - exact)  # (...) float32
    far = (exact + steps.to(torch.int64)).clamp(max=per_side - 1)  # (...): truncation, as T5 casts
    return offset + torch.where(distance < exact, distance, far)  # (...)


def t5_bias_table(
    n: int, table: torch.Tensor, *, bidirectional: bool = True, num_buckets: int = 32, max_distance: int = 128
) -> torch.Tensor:
    """T5's bias (heads, n, n), float64: entry (h, i, j) is table[h, bucket(j - i)]. Chapter: none yet."""
    _checks.positive_int("n", n)
    _checks.tensor("table", table, min_dim=2)
    if table.dim() != 2 or table.shape[1] != num_buckets:
        raise ValueError(f"table must have shape (heads, num_buckets={num_buckets}), got {tuple(table.shape)}")
    _checks.finite("table", table)
    idx = torch.arange(n, dtype=torch.int64)
    rel = idx[None, :] - idx[:, None]  # (n, n): key j minus query i
    buckets = t5_bucket(rel, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance)
    return table.to(torch.float64)[:, buckets]  # (heads, n, n)


def clipped_relative(n: int, clip: int) -> torch.Tensor:
    """Clipped relative positions (n, n), int64: entry (i, j) = clip(j - i, -clip, clip). Chapter: none yet.

    Shaw et al. (2018) use key j minus query i: a_ij = w_{clip(j - i, k)}, so row i (the query) reads
    -clip..clip from left to right and the (2 clip + 1)-row embedding table is indexed by entry + clip.
    NEZHA uses the same clipped difference with fixed sinusoidal vectors instead of learned ones.
    """
    _checks.positive_int("n", n)
    _checks.positive_int("clip", clip)
    idx = torch.arange(n, dtype=torch.int64)
    return (idx[None, :] - idx[:, None]).clamp(-clip, clip)  # (n, n): j - i


def hierarchical_positions(table: torch.Tensor, alpha: float = 0.4, m: int | None = None) -> torch.Tensor:
    """First m (default n^2) rows (m, d), float64, of Su's hierarchical extension of table (n, d). Chapter: none yet.

    With 1-based positions, u_i = (p_i - alpha p_1) / (1 - alpha) and q_{(i-1) n + j} = alpha u_i + (1 - alpha) u_j
    for i, j = 1..n, so q_1..q_n = p_1..p_n (i = 1; up to float64 rounding). In 0-based rows: row a n + b is
    alpha u[a] + (1 - alpha) u[b]. alpha must lie in (0, 1) and not be 0.5, which would give positions (i, j)
    and (j, i) the same vector; the post recommends alpha < 0.5 (default 0.4) so the fine index j dominates.
    """
    _checks.tensor("table", table, min_dim=2)
    if table.dim() != 2 or table.shape[0] < 1:
        raise ValueError(f"table must have shape (n, d) with n >= 1, got {tuple(table.shape)}")
    _checks.finite("table", table)
    alpha = _checks.real_number("alpha", alpha)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if alpha == 0.5:
        raise ValueError("alpha must not be 0.5: positions (i, j) and (j, i) would share one vector")
    n = table.shape[0]
    if m is None:
        m = n * n
    _checks.positive_int("m", m)
    if m > n * n:
        raise ValueError(f"m must be at most n^2 = {n * n} for a table of {n} rows, got {m}")
    p = table.to(torch.float64)  # (n, d)
    u = (p - alpha * p[:1]) / (1 - alpha)  # (n, d): the basis
    q = alpha * u[:, None, :] + (1 - alpha) * u[None, :, :]  # (n, n, d): [a, b] is position a n + b (0-based)
    return q.reshape(n * n, -1)[:m]  # (m, d)
