"""Row statistics of attention: the book's contract names in one place, plus per-head summaries.

``entropy``, ``sparsity(x, kind, dim)``, ``effective_support`` and ``streaming_row_entropy`` are the
names BOOK.md promises here. They are defined in their own modules and re-exported: entropies in
:mod:`attnviz.entropy`, the sparsity measures in :mod:`attnviz.sparsity`, the blocked kernel in
:mod:`attnviz.streaming`, the random key models in :mod:`attnviz.random_models`. What is defined
here summarises the rows of many heads at once (:func:`head_stats`, :func:`rank_correlation`).
"""

from __future__ import annotations

import torch

from . import _checks
from .entropy import effective_support, entropy, entropy_from_logits, entropy_with_extra_key
from .random_models import random_projection_distortion, sphere_entropy_gap
from .sparsity import sparsity, sparsity_from_logits
from .streaming import streaming_row_entropy, streaming_row_stats, streaming_softmax_stats

__all__ = [
    "effective_support",
    "entropy",
    "entropy_from_logits",
    "entropy_with_extra_key",
    "head_stats",
    "random_projection_distortion",
    "rank_correlation",
    "sparsity",
    "sparsity_from_logits",
    "sphere_entropy_gap",
    "streaming_row_entropy",
    "streaming_row_stats",
    "streaming_softmax_stats",
]


def head_stats(logits: torch.Tensor, *, skip: int = 0) -> dict[str, torch.Tensor]:
    """Per-head means over query rows i >= skip of row statistics of softmax(logits). Chapter: real-attention.

    ``logits`` (..., n, n) with -inf at masked keys (causal rows see i + 1 keys). Returns, each of
    shape (...): "entropy" (nats), "normalized entropy" (entropy / log of the keys the row sees, in
    [0, 1]), "hoyer" and "gini" (9595 measures over the visible keys, large = sparse), "sink" (weight
    on key 0). Rows that see a single key are skipped for the normalized entropy and Hoyer (0/0).
    """
    _checks.tensor("logits", logits, min_dim=2)
    n_q = logits.shape[-2]
    if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip < n_q:
        raise ValueError(f"skip must be an int in [0, {n_q - 1}] (query rows to leave out), got {skip!r}")
    rows = logits[..., skip:, :].double()  # (..., n_q - skip, n_k)
    seen = (~torch.isneginf(rows)).sum(-1).double()  # (..., n_q - skip) keys each row sees
    probs = torch.softmax(rows, -1)  # (..., n_q - skip, n_k)
    h = entropy_from_logits(rows)  # (..., n_q - skip) nats
    several = seen > 1
    out = {
        "entropy": h.mean(-1),
        "normalized entropy": _mean_where(h / seen.log(), several),
        "hoyer": _mean_where(sparsity_from_logits(rows, "hoyer"), several),
        "gini": sparsity_from_logits(rows, "gini").mean(-1),
        "sink": probs[..., 0].mean(-1),
    }
    return {key: value.to(logits.dtype) for key, value in out.items()}


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two equal-shape tensors, flattened (ties by position). Chapter: real-attention.

    The Pearson correlation of the ranks: 1 when b orders the entries as a does, -1 when reversed.
    """
    for name, x in (("a", a), ("b", b)):
        _checks.tensor(name, x)
        _checks.finite(name, x)
    if a.shape != b.shape or a.numel() < 2:
        raise ValueError(f"a and b must have the same shape with >= 2 entries, got {tuple(a.shape)}, {tuple(b.shape)}")
    ranks = torch.stack([x.flatten().argsort().argsort() for x in (a, b)]).double()  # (2, N)
    return float(torch.corrcoef(ranks)[0, 1])


def _mean_where(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean of x over the last dim where ``keep``; NaN where no entry is kept."""
    return torch.where(keep, x, 0.0).sum(-1) / keep.sum(-1)
