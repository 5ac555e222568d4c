"""Entropies of attention rows: Shannon and Rényi, from probabilities or from logits.

A leaf module (it imports only the argument checks), so that :mod:`attnviz.metrics`,
:mod:`attnviz.sparsity` and the rest can all build on it. Entropies are in nats with 0 log 0 = 0.
Probabilities must be non-negative and sum to 1 along ``dim`` (masked keys are zeros); logits mark a
masked key with -inf, and a row must keep at least one key.
"""

from __future__ import annotations

import math

import torch

from . import _checks


def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy in nats along ``dim`` of probabilities p, 0 log 0 = 0. Chapter: entropy-invariant-scale."""
    dim = _checks.probabilities("p", p, dim)
    return _shannon(p, dim)


def _shannon(p: torch.Tensor, dim: int) -> torch.Tensor:
    plogp = torch.where(p > 0, p * torch.log(torch.where(p > 0, p, 1)), 0)
    return -plogp.sum(dim)


def entropy_from_logits(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Entropy in nats of softmax(logits) along ``dim``; -inf marks a masked key. Chapter: entropy-invariant-scale."""
    dim = _checks.logits("logits", logits, dim)
    logp = torch.log_softmax(logits, dim)
    p = logp.exp()
    return -torch.where(p > 0, p * logp, 0).sum(dim)


def effective_support(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Effective number of keys exp(entropy(p)), from 1 (one-hot) to n (uniform). Chapter: sparsity-measures."""
    return entropy(p, dim).exp()


def _renyi_rows(p: torch.Tensor, a: float) -> torch.Tensor:
    """Rényi entropy of order a of checked probability rows p (..., n); masked keys are zeros."""
    if a == 1:
        return _shannon(p, -1)
    if a == math.inf:
        return -torch.log(p.amax(-1)) + 0.0
    if a == 0:
        return torch.log((p > 0).sum(-1).to(p.dtype))
    log_p = torch.where(p > 0, torch.log(torch.where(p > 0, p, 1)), -math.inf)  # (..., n)
    return torch.logsumexp(a * log_p, -1) / (1 - a) + 0.0  # + 0.0: one-hot rows give 0, not -0


def renyi(p: torch.Tensor, a: float, dim: int = -1) -> torch.Tensor:
    """Rényi entropy H_a = log(sum p^a) / (1 - a) in nats along ``dim``, a in [0, inf]. Chapter: sparsity-measures.

    a = 1 is Shannon's entropy, a = inf gives -log max p, a = 0 log |support|. Non-increasing in a,
    all in [0, log n]. ``p`` must be probabilities.
    """
    a = _checks.order("a", a, low=0.0, zero=True)
    dim = _checks.probabilities("p", p, dim)
    return _renyi_rows(p.movedim(dim, -1), a)


def renyi_from_logits(logits: torch.Tensor, a: float, dim: int = -1) -> torch.Tensor:
    """Rényi entropy H_a in nats of softmax(logits) along ``dim``; -inf = masked key.

    Chapter: none yet.

    For a != 1: H_a = (a LSE(s) - LSE(a s)) / (a - 1), stable for large logits; a = 1 is
    :func:`entropy_from_logits`; a = inf: LSE(s) - max s; a = 0: log(unmasked count).
    """
    a = _checks.order("a", a, low=0.0, zero=True)
    dim = _checks.logits("logits", logits, dim)
    if a == 1:
        return entropy_from_logits(logits, dim)
    lse = torch.logsumexp(logits, dim)
    if a == math.inf:
        return lse - logits.amax(dim)
    if a == 0:
        return torch.log((~torch.isneginf(logits)).sum(dim).to(logits.dtype))
    return (a * lse - torch.logsumexp(a * logits, dim)) / (a - 1)


def participation_ratio(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """1 / sum p^2 = e^{H_2} along ``dim``: between 1/max p and e^H, in [1, n]. Chapter: sparsity-measures."""
    dim = _checks.probabilities("p", p, dim)
    return 1 / p.pow(2).sum(dim)


def entropy_with_extra_key(
    log_z: torch.Tensor, h: torch.Tensor, logit: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Entropy, new key's weight) when a key with ``logit`` joins rows (log_z, h). Chapter: entropy-invariant-scale.

    Uses the grouping rule H = h_b(p) + (1 - p) h, with p = e^logit / (Z + e^logit) the new key's
    weight and h_b the binary entropy; returns (H, p), broadcast together.
    """
    _checks.tensor("log_z", log_z, min_dim=0)
    _checks.tensor("h", h, min_dim=0)
    logit = torch.as_tensor(logit, dtype=log_z.dtype, device=log_z.device)
    for name, x in (("log_z", log_z), ("h", h), ("logit", logit)):
        _checks.finite(name, x)
    if bool((h < 0).any()):
        raise ValueError("h must be >= 0 (an entropy)")
    log_total = torch.logaddexp(log_z, logit)
    log_p, log_rest = logit - log_total, log_z - log_total  # log p, log(1 - p)
    p, rest = log_p.exp(), log_rest.exp()
    return -p * log_p - rest * log_rest + rest * h, p
