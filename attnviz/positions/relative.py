"""Relative position biases added to the logits: ALiBi (later T5's buckets and RoPE plus a bias)."""

from __future__ import annotations

import math

import torch

from .. import _checks


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi head slopes (n_heads,), float64: 2^(-8h/H), h = 1..H, for H a power of two. Chapter: none yet.

    For other H the ALiBi authors' code takes the slopes of the power of two P just below H and then every
    other slope of 2P (odd h), in order, until there are H.
    """
    _checks.positive_int("n_heads", n_heads)
    power = 2 ** int(math.floor(math.log2(n_heads)))
    h = torch.arange(1, 2 * power + 1, dtype=torch.float64)
    slopes = 2.0 ** (-8.0 * h[:power] / power)  # (P,)
    extra = 2.0 ** (-8.0 * h[0::2] / (2 * power))  # (P,): slopes of 2P at h = 1, 3, 5, ...
    return torch.cat((slopes, extra[: n_heads - power]))


def alibi_bias(n: int, n_heads: int) -> torch.Tensor:
    """ALiBi bias (n_heads, n, n), float64: -slope_h |i - j| added to logit (i, j). Chapter: none yet.

    Below the diagonal (j <= i, what a causal model sees) this is -slope_h (i - j); the bias is symmetric.
    """
    _checks.positive_int("n", n)
    idx = torch.arange(n, dtype=torch.float64)
    distance = (idx[:, None] - idx[None, :]).abs()  # (n, n)
    return -alibi_slopes(n_heads)[:, None, None] * distance  # (n_heads, n, n)
