"""Paired differences between two methods on the same sequences, with standard errors. Chapter: train-short-test-long.

:func:`~attnviz.lab.evaluate` scores every method on the same held-out sequences (same seed), so two
methods are best compared sequence by sequence: the difference of their scores on each sequence
cancels how hard that sequence is. With several training seeds a second source of noise enters, which
model training produced; :func:`paired_difference` adds both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .data import TASKS


def paired_difference(a: Sequence | torch.Tensor, b: Sequence | torch.Tensor) -> tuple[float, float]:
    """(mean of a - b, its standard error) over paired scores. Chapter: train-short-test-long.

    ``a`` and ``b`` hold scores of the same sequences in the same order: shape (samples,) for one
    trained model, or (seeds, samples) for models trained with several seeds on the same sequences.
    One seed: the standard error of the mean of the per-sequence differences. Several: the squared
    standard errors over seeds (of each seed's mean difference) and over sequences (of each sequence's
    difference averaged over seeds) add; this counts the per-sequence noise twice, so it errs large.
    """
    a64 = torch.as_tensor(a, dtype=torch.float64)
    b64 = torch.as_tensor(b, dtype=torch.float64)
    if a64.shape != b64.shape or a64.dim() not in (1, 2):
        raise ValueError(f"a and b must have one shape, (samples,) or (seeds, samples); got {a64.shape}, {b64.shape}")
    diff = a64 - b64 if a64.dim() == 2 else (a64 - b64)[None]  # (seeds, samples)
    seeds, samples = diff.shape
    if samples < 2:
        raise ValueError(f"a and b need at least 2 samples for a standard error, got {samples}")
    if not bool(torch.isfinite(diff).all()):
        raise ValueError("a and b must be finite")
    per_seed = diff.mean(1)  # (seeds,)
    per_sample = diff.mean(0)  # (samples,)
    var = float(per_sample.var(correction=1)) / samples
    if seeds > 1:
        var += float(per_seed.var(correction=1)) / seeds
    return float(per_seed.mean()), math.sqrt(var)


def scores(
    result: dict,
    model: str,
    method: str,
    length: int,
    task: str,
    metric: str = "accuracy",
    *,
    seeds: Sequence[int] | None = None,
) -> torch.Tensor:
    """Per-sequence scores (seeds, samples) of one model and method, from a :func:`run`. Chapter: train-short-test-long.

    ``seeds`` picks training seeds in that order (default: every seed of ``model`` in ``result``, sorted).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    rows = {
        r.get("seed", 0): r
        for r in result["rows"]
        if (r["model"], r["method"], r["length"], r["task"]) == (model, method, length, task)
    }
    if not rows:
        raise ValueError(f"no rows for model={model!r}, method={method!r}, length={length}, task={task!r}")
    seeds = sorted(rows) if seeds is None else list(seeds)
    missing = [s for s in seeds if s not in rows]
    if missing or not seeds:
        raise ValueError(f"seeds must be among {sorted(rows)} for model={model!r}, got {seeds}")
    out = []
    for s in seeds:
        per = rows[s].get("per_sample", {})
        if metric not in per:
            raise ValueError(f"metric {metric!r} has no per-sequence scores for model={model!r}, method={method!r}")
        out.append(per[metric])
    return torch.tensor(out, dtype=torch.float64)  # (seeds, samples)


def difference(
    result: dict, a: str, b: str, length: int, task: str, metric: str = "accuracy"
) -> tuple[float, float, int]:
    """(mean, standard error, seeds) of a - b on paired sequences; ``a``, ``b`` are "method" or "model:method".

    A bare method runs on the "rope" model. The seeds are those both sides have. Chapter: train-short-test-long.
    """
    sides = []
    for name, side in (("a", a), ("b", b)):
        if not isinstance(side, str) or not side:
            raise ValueError(f"{name} must be 'method' or 'model:method', got {side!r}")
        model, _, how = side.rpartition(":")
        sides.append((model or "rope", how))
    seeds_a = {r.get("seed", 0) for r in result["rows"] if (r["model"], r["method"]) == sides[0]}
    seeds_b = {r.get("seed", 0) for r in result["rows"] if (r["model"], r["method"]) == sides[1]}
    common = sorted(seeds_a & seeds_b)
    if not common:
        raise ValueError(f"a and b share no training seed: {sorted(seeds_a)} and {sorted(seeds_b)}")
    xa = scores(result, *sides[0], length, task, metric, seeds=common)  # (seeds, samples)
    xb = scores(result, *sides[1], length, task, metric, seeds=common)  # (seeds, samples)
    mean, se = paired_difference(xa, xb)
    return mean, se, len(common)
