"""Naive Bayes context pooling (NBCE): combine several contexts' next-token log-probabilities.

Given the log-probabilities ``log p(T | S_k)`` that a model predicts from each of ``n`` contexts
separately, and its no-context prediction ``log p(T)``, NBCE scores every outcome ``T`` by

    (1 + beta) * P[log p(T | S)] - beta * log p(T)

and renormalises over ``T``. ``P`` pools over the contexts: the mean (with ``beta = n - 1`` this is
exact Naive Bayes), the elementwise max, the single context of smallest entropy (the final NBCE),
or a weighted average (the attention form).
"""

from __future__ import annotations

import torch

from . import _checks

POOLINGS = ("mean", "max", "min_entropy", "weighted")


def _check_log_probs(log_probs: torch.Tensor) -> torch.Tensor:
    _checks.tensor("log_probs", log_probs, min_dim=2)
    _checks.logits("log_probs", log_probs, -1)
    total = torch.logsumexp(log_probs, -1)
    if bool((total.abs() > _checks.sum_tolerance(log_probs.dtype, log_probs.shape[-1])).any()):
        worst = float(total.abs().max())
        raise ValueError(
            "log_probs must be normalized log-probabilities along the last dim "
            f"(logsumexp = 0; worst row is off by {worst:.3g}); apply torch.log_softmax to logits"
        )
    return log_probs


def _check_weights(weights: object, log_probs: torch.Tensor) -> torch.Tensor:
    _checks.tensor("weights", weights)
    _checks.finite("weights", weights)
    if weights.shape != log_probs.shape[:-1]:
        raise ValueError(
            f"weights must have shape {tuple(log_probs.shape[:-1])} (one weight per context), "
            f"got {tuple(weights.shape)}"
        )
    _checks.probabilities("weights", weights, -1)  # non-negative, summing to 1 over the contexts
    return weights


def context_entropies(log_probs: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each context's prediction, (..., n, V) -> (..., n). Chapter: naive-bayes-attention."""
    _check_log_probs(log_probs)
    p = log_probs.exp()
    return -torch.where(p > 0, p * log_probs, 0).sum(-1)


def pool_log_probs(log_probs: torch.Tensor, pooling: str = "mean", weights: torch.Tensor | None = None) -> torch.Tensor:
    """Pool (..., n, V) per-context log-probabilities over the n contexts into (..., V). Chapter: naive-bayes-attention.

    ``pooling``: ``"mean"``, ``"max"`` (elementwise), ``"min_entropy"`` (the one context whose
    prediction has the smallest entropy; ties go to the first) or ``"weighted"`` (sum_k a_k log p_k
    with ``weights`` a of shape (..., n), non-negative, summing to 1).
    """
    _check_log_probs(log_probs)
    _checks.choice("pooling", pooling, POOLINGS)
    if (pooling == "weighted") != (weights is not None):
        raise ValueError("weights must be given exactly when pooling='weighted'")
    if pooling == "mean":
        return log_probs.mean(-2)
    if pooling == "max":
        return log_probs.max(-2).values
    if pooling == "min_entropy":
        k = context_entropies(log_probs).argmin(-1)  # (...,)
        index = k[..., None, None].expand(*k.shape, 1, log_probs.shape[-1])
        return log_probs.gather(-2, index).squeeze(-2)
    a = _check_weights(weights, log_probs).to(log_probs.dtype)
    terms = torch.where(a[..., None] > 0, a[..., None] * log_probs, 0)  # 0 * log 0 = 0
    return terms.sum(-2)


def nbce_log_probs(
    log_probs: torch.Tensor,
    log_prior: torch.Tensor,
    beta: float,
    pooling: str = "min_entropy",
    weights: torch.Tensor | None = None,
    normalize: bool = True,
) -> torch.Tensor:
    """NBCE log-probs (1 + beta) P[log p(T|S)] - beta log p(T), (..., n, V) -> (..., V). Chapter: naive-bayes-attention.

    ``log_prior`` is the no-context prediction log p(T), shape (..., V) or (V,), finite. ``beta`` must
    be >= -1 (beta = -1 returns the prior; beta = 0 the pooled prediction; mean pooling with
    beta = n - 1 is exact Naive Bayes). ``normalize=False`` returns the unnormalized score.
    """
    pooled = pool_log_probs(log_probs, pooling, weights)  # (..., V)
    _checks.tensor("log_prior", log_prior)
    _checks.finite("log_prior", log_prior)
    if log_prior.shape[-1] != log_probs.shape[-1]:
        raise ValueError(
            f"log_prior must have V = {log_probs.shape[-1]} entries in its last dim, got {log_prior.shape[-1]}"
        )
    try:
        fits = torch.broadcast_shapes(log_prior.shape, pooled.shape) == pooled.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"log_prior must broadcast to {tuple(pooled.shape)}, got {tuple(log_prior.shape)}")
    beta = _checks.real_number("beta", beta)
    if beta < -1:
        raise ValueError(f"beta must be >= -1 (the pooled term's weight 1 + beta must not be negative), got {beta}")
    if beta == -1:
        score = log_prior.expand_as(pooled).to(pooled.dtype)
    else:
        score = (1 + beta) * pooled - beta * log_prior  # (..., V)
    if not normalize:
        return score
    if bool(torch.isneginf(score).all(-1).any()):
        raise ValueError("log_probs give every outcome probability 0 after pooling (contexts with disjoint supports)")
    return torch.log_softmax(score, -1)
