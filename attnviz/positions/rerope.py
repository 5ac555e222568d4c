"""ReRoPE and Leaky ReRoPE: relative positions capped (or compressed) beyond a window, in two RoPE passes."""

from __future__ import annotations

import torch

from .. import _checks
from .rope import apply_rope


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
