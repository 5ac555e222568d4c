"""Argument checks shared by every attnviz module (clear ValueErrors, never deep torch tracebacks)."""

from __future__ import annotations

import math
from numbers import Real

import torch


def tensor(name: str, x: object, *, min_dim: int = 1) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor with at least ``min_dim`` dimensions."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not (x.is_floating_point() or x.is_complex()):
        raise ValueError(f"{name} must have a floating-point dtype, got {x.dtype}")
    if x.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got shape {tuple(x.shape)}")
    return x


def finite(name: str, x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` if every entry is finite."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite everywhere (found nan or inf)")
    return x


def real_number(name: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number (and > 0 when ``positive``)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()  # a 0-d (or one-element) tensor counts as a number
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def positive_int(name: str, value: object, *, even: bool = False) -> int:
    """Return ``value`` if it is an int >= 1 (and even when ``even``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    if even and value % 2:
        raise ValueError(f"{name} must be even (RoPE rotates pairs of coordinates), got {value}")
    return value


def choice(name: str, value: object, options: tuple) -> object:
    """Return ``value`` if it is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value
