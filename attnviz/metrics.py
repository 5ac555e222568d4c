"""Row statistics of attention distributions: entropy and effective support."""

from __future__ import annotations

import math

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


def _check_block(block: int) -> int:
    return _checks.positive_int("block", block)


def streaming_softmax_stats(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    block: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor]:
    """log Z and entropy of softmax(scale q k^T) rows (..., n_q), keys read in blocks. Chapter: entropy-invariant-scale.

    The n_q x n_k matrix is never formed: keys are read ``block`` at a time while each row keeps a
    running maximum m, Z = sum exp(s - m) and W = sum exp(s - m)(s - m) (rescaled whenever m
    grows), so that log Z = m + log Z and H = log Z - W / Z at the end. ``scale`` defaults to
    1/sqrt(d) as in :func:`attnviz.attention.scores`; ``causal`` lets query i see keys j <= i.
    """
    from .attention import scores  # local import: attention does not depend on metrics

    _checks.tensor("q", q, min_dim=2)
    _checks.tensor("k", k, min_dim=2)
    block = _check_block(block)
    if k.shape[-2] == 0:
        raise ValueError("k must hold at least one key (n_k >= 1)")
    n_q, n_k = q.shape[-2], k.shape[-2]
    rows = torch.arange(n_q, device=q.device)[:, None]  # (n_q, 1)
    m = z = w = None
    for j0 in range(0, n_k, block):
        s = scores(q, k[..., j0 : j0 + block, :], scale)  # (..., n_q, b)
        if causal:
            cols = torch.arange(j0, j0 + s.shape[-1], device=q.device)[None, :]
            s = s.masked_fill(cols > rows, float("-inf"))  # key 0 is seen by every row
        m_new = s.max(-1).values if m is None else torch.maximum(m, s.max(-1).values)
        shifted = s - m_new[..., None]
        e = torch.exp(shifted)  # masked keys give 0
        e_shifted = torch.where(e > 0, e * shifted, 0.0).sum(-1)
        if m is None:
            z, w = e.sum(-1), e_shifted
        else:
            r = torch.exp(m - m_new)
            w = r * (w + (m - m_new) * z) + e_shifted
            z = r * z + e.sum(-1)
        m = m_new
    return m + torch.log(z), torch.log(z) - w / z


def streaming_row_entropy(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    scale: float | None = None,
    causal: bool = False,
    block: int = 4096,
) -> torch.Tensor:
    """Entropy of softmax(scale q k^T) rows, (..., n_q), never forming n_q x n_k. Chapter: entropy-invariant-scale."""
    return streaming_softmax_stats(q, k, scale=scale, causal=causal, block=block)[1]


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


def sphere_entropy_gap(lam: float, d: int, *, points: int = 20001) -> float:
    """Mean-field entropy gap h(lam, d) of softmax over keys on a sphere (7695, 8823). Chapter: entropy-invariant-scale.

    h = log E[e^(lam d cos t)] - lam d E_tilted[cos t], t the angle between random d-dim vectors.

    The mean-field entropy of softmax(lam q . k) over n keys is log n + h when q and the keys have
    norm sqrt(d) and the keys are uniform on their sphere (posts 8823 and 7695; h_d of 7695 is
    h(1, d)). The angle has density proportional to sin(t)^(d-2) on [0, pi]; the three integrals
    are done by the trapezoid rule on ``points`` nodes in log space (accurate to ~1e-10 for
    d <= 4096 and |lam| <= 4). h = -KL(tilted angle law || angle law) <= 0, h(0, d) = 0.
    """
    lam = _checks.real_number("lam", lam)
    _checks.positive_int("d", d)
    if d < 2:
        raise ValueError(f"d must be >= 2 (in one dimension there is no angle to average over), got {d}")
    points = _checks.positive_int("points", points)
    if points < 3:
        raise ValueError(f"points must be >= 3, got {points}")
    t = lam * d
    theta = torch.linspace(0.0, math.pi, points, dtype=torch.float64)
    log_base = torch.xlogy(torch.tensor(d - 2.0, dtype=torch.float64), torch.sin(theta))
    log_tilted = log_base + t * torch.cos(theta)
    base = torch.exp(log_base - log_base.max())
    tilted = torch.exp(log_tilted - log_tilted.max())
    log_mgf = (
        log_tilted.max() + torch.trapezoid(tilted, theta).log() - log_base.max() - torch.trapezoid(base, theta).log()
    )
    mean_cos = torch.trapezoid(tilted * torch.cos(theta), theta) / torch.trapezoid(tilted, theta)
    return float(log_mgf - t * mean_cos)


def random_projection_distortion(x: torch.Tensor, k: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Ratios |P x_i - P x_j|^2 / |x_i - x_j|^2 over pairs i < j, P Gaussian (D, k)/sqrt(k). Chapter: entropy-jl-lemma.

    ``x`` is (n, D); returns the n (n - 1) / 2 ratios (the Johnson-Lindenstrauss lemma bounds how
    far they stray from 1). Each ratio is distributed as chi-squared with k degrees of freedom / k.
    """
    _checks.tensor("x", x, min_dim=2)
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be (n, D) with n >= 2 points, got shape {tuple(x.shape)}")
    _checks.finite("x", x)
    k = _checks.positive_int("k", k)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    before = torch.pdist(x) ** 2  # (n (n - 1) / 2,)
    if bool((before == 0).any()):
        raise ValueError("x must not contain repeated points (a zero distance has no distortion ratio)")
    proj = torch.randn(x.shape[1], k, generator=generator, dtype=x.dtype) / math.sqrt(k)  # (D, k)
    return torch.pdist(x @ proj) ** 2 / before
