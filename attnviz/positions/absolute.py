"""Absolute position encodings added to the input: the sinusoidal table (later learned and hierarchical ones)."""

from __future__ import annotations

import torch

from .. import _checks
from .rope import _plain_frequencies


def sinusoidal(n: int, d: int, base: float = 10000.0) -> torch.Tensor:
    """Sinusoidal table (n, d): p[k, 2i] = sin(k theta_i), p[k, 2i+1] = cos(k theta_i). Chapter: rope-rotation."""
    _checks.positive_int("n", n)
    freqs = _plain_frequencies(d, base)  # (d/2,)
    angles = torch.arange(n, dtype=torch.float64)[:, None] * freqs  # (n, d/2)
    return torch.stack((angles.sin(), angles.cos()), dim=-1).reshape(n, d)
