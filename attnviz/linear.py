"""Linear attention: feature maps and three equal ways to compute phi(q) phi(k)^T v / phi(q) phi(k)^T 1.

Shapes: ``q`` (..., n_q, d), ``k`` (..., n_k, d), ``v`` (..., n_k, d_v); features (..., n, r); output
(..., n_q, d_v). ``causal=True`` lets query i see keys j <= i (top-left aligned, as in
:mod:`attnviz.attention` and torch's ``is_causal``); a query past the last key sees every key.

- :func:`linear_attention`: the quadratic form, an (n_q, n_k) similarity matrix, causal or not;
- :func:`linear_attention_rnn`: the causal recurrent form, one step per position with a state
  S_i = sum_{j<=i} phi(k_j) v_j^T (r, d_v) and z_i = sum_{j<=i} phi(k_j) (r,), O(1) memory in n;
- :func:`linear_attention_chunked`: the causal chunked form, quadratic inside a chunk, recurrent across.

With ``freqs``, RoPE rotates the features in the numerator only and the denominator keeps the
plain features, so it stays positive (the recipe of RoFormer's linear attention, post 8265).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import _checks
from .positions import apply_rope

FeatureMap = Callable[[torch.Tensor], torch.Tensor]


def _elu_plus_one(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x) + 1


FEATURE_MAPS: dict[str, FeatureMap] = {
    "elu+1": _elu_plus_one,  # Katharopoulos et al. 2020: positive, ~linear for x > 0
    "relu": torch.relu,  # non-negative, but a row can sum to zero
    "exp": torch.exp,  # positive; exp(q).exp(k) is a crude softmax kernel
}


def feature_map(name: str | FeatureMap) -> FeatureMap:
    """The feature map phi named ``name`` ("elu+1", "relu", "exp") or a callable as is. Chapter: attention-focus."""
    if callable(name):
        return name
    if name not in FEATURE_MAPS:
        raise ValueError(f"feature_map must be one of {tuple(FEATURE_MAPS)} or a callable, got {name!r}")
    return FEATURE_MAPS[name]


def _features(
    q: torch.Tensor, k: torch.Tensor, phi: str | FeatureMap, freqs: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Numerator features (rotated when ``freqs``) and denominator features of q and k, each (..., n, r)."""
    _checks.tensor("q", q, min_dim=2)
    _checks.tensor("k", k, min_dim=2)
    if q.shape[-1] != k.shape[-1] or q.dtype != k.dtype:
        raise ValueError(f"q and k must share the last dimension and dtype, got {tuple(q.shape)}, {tuple(k.shape)}")
    phi = feature_map(phi)
    fq, fk = phi(q), phi(k)  # (..., n_q, r), (..., n_k, r)
    if not (isinstance(fq, torch.Tensor) and isinstance(fk, torch.Tensor)) or fq.shape[-1] != fk.shape[-1]:
        raise ValueError("feature_map must map q and k to tensors with the same last dimension")
    if freqs is None:
        return fq, fk, fq, fk
    n_q, n_k = fq.shape[-2], fk.shape[-2]
    rq = apply_rope(fq, torch.arange(n_q, dtype=torch.float64), freqs)  # (..., n_q, r)
    rk = apply_rope(fk, torch.arange(n_k, dtype=torch.float64), freqs)  # (..., n_k, r)
    return rq, rk, fq, fk


def _check_v(k: torch.Tensor, v: torch.Tensor) -> None:
    _checks.tensor("v", v, min_dim=2)
    if v.shape[-2] != k.shape[-2] or v.dtype != k.dtype:
        raise ValueError(f"v must have one row per key and the dtype of k: k {tuple(k.shape)}, v {tuple(v.shape)}")


def _visible(n_q: int, n_k: int, device: torch.device) -> torch.Tensor:
    """Boolean (n_q, n_k): query i sees key j <= i."""
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril()


def normalizers(
    q: torch.Tensor,
    k: torch.Tensor,
    feature_map: str | FeatureMap = "elu+1",
    *,
    causal: bool = False,
    freqs: torch.Tensor | None = None,
) -> torch.Tensor:
    """Row sums sum_j phi(q_i).phi(k_j) (..., n_q), RoPE-rotated features when ``freqs``. Chapter: rope-rotation."""
    rq, rk, _, _ = _features(q, k, feature_map, freqs)
    sim = rq @ rk.transpose(-1, -2)  # (..., n_q, n_k)
    if causal:
        sim = sim.masked_fill(~_visible(sim.shape[-2], sim.shape[-1], sim.device), 0)
    return sim.sum(-1)


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map: str | FeatureMap = "elu+1",
    *,
    causal: bool = False,
    freqs: torch.Tensor | None = None,
) -> torch.Tensor:
    """Quadratic form (phi(q) phi(k)^T, masked) v / row sums, (..., n_q, d_v). Chapter: rope-rotation."""
    _check_v(k, v)
    nq, nk, dq, dk = _features(q, k, feature_map, freqs)
    num = nq @ nk.transpose(-1, -2)  # (..., n_q, n_k)
    den = dq @ dk.transpose(-1, -2)  # (..., n_q, n_k)
    if causal:
        hidden = ~_visible(num.shape[-2], num.shape[-1], num.device)
        num, den = num.masked_fill(hidden, 0), den.masked_fill(hidden, 0)
    return (num @ v) / den.sum(-1, keepdim=True)  # (..., n_q, d_v)


def linear_attention_rnn(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map: str | FeatureMap = "elu+1",
    *,
    freqs: torch.Tensor | None = None,
) -> torch.Tensor:
    """Causal linear attention as an RNN: one state update per position, (..., n_q, d_v). Chapter: rope-rotation."""
    _check_v(k, v)
    nq, nk, dq, dk = _features(q, k, feature_map, freqs)
    n_q, n_k = nq.shape[-2], nk.shape[-2]
    batch = torch.broadcast_shapes(nq.shape[:-2], nk.shape[:-2], v.shape[:-2])
    state = nq.new_zeros(*batch, nq.shape[-1], v.shape[-1])  # S = sum_j R_j phi(k_j) v_j^T, (..., r, d_v)
    norm = dq.new_zeros(*batch, dq.shape[-1])  # z = sum_j phi(k_j), (..., r)
    out = []
    for i in range(n_q):
        if i < n_k:  # key i joins the state before query i reads it
            state = state + nk[..., i, :, None] * v[..., i, None, :]
            norm = norm + dk[..., i, :]
        num = (nq[..., i, :, None] * state).sum(-2)  # phi(q_i)^T S, (..., d_v)
        den = (dq[..., i, :] * norm).sum(-1, keepdim=True)  # phi(q_i)^T z, (..., 1)
        out.append(num / den)
    return torch.stack(out, dim=-2)  # (..., n_q, d_v)


def linear_attention_chunked(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    feature_map: str | FeatureMap = "elu+1",
    *,
    chunk: int,
    freqs: torch.Tensor | None = None,
) -> torch.Tensor:
    """Causal linear attention by chunks, quadratic within, a state across, (..., n_q, d_v). Chapter: rope-rotation."""
    _checks.positive_int("chunk", chunk)
    _check_v(k, v)
    nq, nk, dq, dk = _features(q, k, feature_map, freqs)
    n_q, n_k = nq.shape[-2], nk.shape[-2]
    batch = torch.broadcast_shapes(nq.shape[:-2], nk.shape[:-2], v.shape[:-2])
    state = nq.new_zeros(*batch, nq.shape[-1], v.shape[-1])  # keys before the chunk, (..., r, d_v)
    norm = dq.new_zeros(*batch, dq.shape[-1])  # (..., r)
    out = []
    for start in range(0, n_q, chunk):
        stop, seen = min(start + chunk, n_q), min(start + chunk, n_k)
        hidden = ~_visible(stop - start, max(seen - start, 0), nq.device)  # (c, c') inside the chunk
        num_in = (nq[..., start:stop, :] @ nk[..., start:seen, :].transpose(-1, -2)).masked_fill(hidden, 0)
        den_in = (dq[..., start:stop, :] @ dk[..., start:seen, :].transpose(-1, -2)).masked_fill(hidden, 0)
        num = num_in @ v[..., start:seen, :] + nq[..., start:stop, :] @ state  # (..., c, d_v)
        den = den_in.sum(-1, keepdim=True) + dq[..., start:stop, :] @ norm[..., :, None]  # (..., c, 1)
        out.append(num / den)
        if seen > start:  # the chunk's keys join the state
            state = state + nk[..., start:seen, :].transpose(-1, -2) @ v[..., start:seen, :]
            norm = norm + dk[..., start:seen, :].sum(-2)
    return torch.cat(out, dim=-2)  # (..., n_q, d_v)
