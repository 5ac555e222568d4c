"""Row statistics of attention distributions: entropy and effective support."""

from __future__ import annotations

import torch

from . import _checks


def _sum_tolerance(p: torch.Tensor, n: int) -> float:
    return max(1e-6, 4 * n * torch.finfo(p.dtype).eps)


def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy in nats along ``dim`` of probabilities p, with 0 log 0 = 0. Chapter: rope-rotation.

    ``p`` must be non-negative and sum to 1 along ``dim`` (masked entries are zeros). For logits
    use :func:`entropy_from_logits`.
    """
    _checks.tensor("p", p)
    _checks.finite("p", p)
    if bool((p < 0).any()):
        raise ValueError("p must be non-negative (probabilities); for logits use entropy_from_logits")
    total = p.sum(dim)
    if bool(((total - 1).abs() > _sum_tolerance(p, p.shape[dim])).any()):
        worst = float((total - 1).abs().max())
        raise ValueError(f"p must sum to 1 along dim={dim} (worst row is off by {worst:.3g})")
    plogp = torch.where(p > 0, p * torch.log(torch.where(p > 0, p, 1)), 0)
    return -plogp.sum(dim)


def entropy_from_logits(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Entropy in nats of softmax(logits) along ``dim``; -inf entries are masked keys. Chapter: rope-rotation."""
    _checks.tensor("logits", logits)
    if bool(torch.isnan(logits).any()) or bool((logits == float("inf")).any()):
        raise ValueError("logits must not contain nan or +inf (-inf marks a masked key)")
    if bool(torch.isneginf(logits).all(dim).any()):
        raise ValueError(f"every entry of some row of logits along dim={dim} is -inf: nothing to attend to")
    logp = torch.log_softmax(logits, dim)
    p = logp.exp()
    return -torch.where(p > 0, p * logp, 0).sum(dim)


def effective_support(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Effective number of keys exp(entropy(p)), between 1 (one-hot) and n (uniform). Chapter: rope-rotation."""
    return entropy(p, dim).exp()
