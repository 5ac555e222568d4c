"""Scaled RoPE frequencies for length extrapolation, and the beta-base view that motivates them.

Every schedule maps the trained frequencies theta_i = base^(-2i/d) to new ones for a context
``factor`` times longer; :mod:`attnviz.extrapolation` names the inference-time methods built on them.
"""

from __future__ import annotations

import math

import torch

from .. import _checks
from .rope import _plain_frequencies

SCALINGS = (None, "linear", "ntk", "base-k", "ntk-fixed", "ntk-mixed", "yarn", "dynamic")
RAMPS = ("turns", "pairs")


def rope_frequencies(
    d: int,
    base: float = 10000.0,
    scaling: str | None = None,
    factor: float = 1.0,
    *,
    mix: float = 0.625,
    train_len: int | None = None,
    seq_len: int | None = None,
    ramp: tuple[float, float] = (1.0, 32.0),
    ramp_over: str = "turns",
    truncate: bool = True,
) -> torch.Tensor:
    """Frequencies theta_i = base^(-2i/d), shape (d/2,), float64, optionally scaled. Chapter: rope-rotation.

    ``scaling=None`` ignores ``factor``. ``"linear"`` (position interpolation) divides every theta_i by
    ``factor``; ``"ntk"`` (NTK-aware, bloc97) uses the base ``base * factor ** (d / (d - 2))``; ``"base-k"``
    (Su's base conversion, the "NTK-RoPE-old" of posts 9675 / 9706) the base ``base * factor``;
    ``"dynamic"`` (dynamic NTK, transformers' formula) the base ``base * s ** (d / (d - 2))`` with
    s = factor * max(seq_len, train_len) / train_len - (factor - 1), which is 1 up to the training length.
    ``"ntk-fixed"`` multiplies theta_i by lam^-(i+1), lam = factor^(2/d); ``"ntk-mixed"`` by exp(-a (i+1)^mix),
    a = ln(factor) / (d/2)^mix (mix = 1 is ntk-fixed, mix = 0 is linear).
    ``"yarn"`` multiplies theta_i by g_i + (1 - g_i) / factor, where g_i ramps from 0 (interpolate) to 1
    (keep) as the turns r_i = theta_i train_len / (2 pi) of pair i in training pass ``ramp = (alpha, beta)``.
    ``ramp_over="turns"`` is the YaRN paper's formula, linear in r_i: g_i = clip((r_i - alpha) / (beta - alpha)).
    ``ramp_over="pairs"`` is the YaRN authors' code and transformers': linear in the pair index i between
    the indices where r_i = beta and r_i = alpha (rounded outwards, floor and ceil, when ``truncate``).
    """
    theta = _plain_frequencies(d, base)  # (d/2,), validates d and base
    base = float(base)
    factor = _checks.real_number("factor", factor, positive=True)
    _checks.choice("scaling", scaling, SCALINGS)
    if scaling in ("ntk", "dynamic") and d == 2:
        raise ValueError(f"scaling={scaling!r} needs d >= 4 (the new base is base * s ** (d / (d - 2)))")
    if scaling in ("yarn", "dynamic"):
        if train_len is None:
            raise ValueError(f"scaling={scaling!r} needs train_len (the length the model was trained at)")
        _checks.positive_int("train_len", train_len)
    if scaling == "linear":
        return theta / factor
    if scaling == "ntk":
        return _plain_frequencies(d, base * factor ** (d / (d - 2)))
    if scaling == "base-k":
        return _plain_frequencies(d, base * factor)
    if scaling == "dynamic":
        if seq_len is None:
            raise ValueError("scaling='dynamic' needs seq_len (the current length that sets the base)")
        _checks.positive_int("seq_len", seq_len)
        s = factor * max(seq_len, train_len) / train_len - (factor - 1)
        return _plain_frequencies(d, base * s ** (d / (d - 2)))
    if scaling in ("ntk-fixed", "ntk-mixed"):
        mix = 1.0 if scaling == "ntk-fixed" else _checks.real_number("mix", mix)
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"mix must be in [0, 1] (the digits' bases must not increase), got {mix}")
        i = torch.arange(d // 2, dtype=torch.float64)
        a = math.log(factor) / (d / 2) ** mix
        return theta * torch.exp(-a * (i + 1) ** mix)
    if scaling == "yarn":
        keep = _yarn_keep(theta, base, train_len, ramp, ramp_over, truncate)  # (d/2,) g_i in [0, 1]
        return theta * (keep + (1 - keep) / factor)
    return theta


def _yarn_keep(
    theta: torch.Tensor, base: float, train_len: int, ramp: object, ramp_over: str, truncate: bool
) -> torch.Tensor:
    """YaRN's g_i (d/2,): 1 keeps pair i's frequency, 0 divides it by the factor."""
    _checks.choice("ramp_over", ramp_over, RAMPS)
    if not (isinstance(ramp, (tuple, list)) and len(ramp) == 2):
        raise ValueError(f"ramp must be a pair (alpha, beta) of turn thresholds, got {ramp!r}")
    alpha, beta = (_checks.real_number("ramp", r, positive=True) for r in ramp)
    if not beta > alpha:
        raise ValueError(f"ramp must have beta > alpha (turn thresholds), got ramp = ({alpha}, {beta})")
    if ramp_over == "turns":
        turns = theta * train_len / (2 * math.pi)  # (d/2,) r_i
        return ((turns - alpha) / (beta - alpha)).clamp(0.0, 1.0)
    if not isinstance(truncate, bool):
        raise ValueError(f"truncate must be True or False, got {truncate!r}")
    d = 2 * theta.shape[0]

    def pair_index(turns: float) -> float:  # the real i at which r_i = turns
        return d * math.log(train_len / (2 * math.pi * turns)) / (2 * math.log(base))

    fast, slow = pair_index(beta), pair_index(alpha)  # fast < slow: beta turns come before alpha turns
    if truncate:
        fast, slow = math.floor(fast), math.ceil(slow)
    fast, slow = max(fast, 0), min(slow, d - 1)  # transformers clips to [0, d - 1] (not d/2 - 1)
    if slow == fast:
        slow += 0.001  # transformers' guard against a zero-width ramp
    i = torch.arange(d // 2, dtype=torch.float64)
    return ((slow - i) / (slow - fast)).clamp(0.0, 1.0)


def yarn_logit_scale(factor: float) -> float:
    """YaRN's logit multiplier (1 + 0.1 ln s)^2 for s = max(1, factor).

    Chapter: train-short-test-long (via lab.evaluate, lab.run).
    """
    factor = _checks.real_number("factor", factor, positive=True)
    return (1 + 0.1 * math.log(max(1.0, factor))) ** 2


def beta_digits(n: object, beta: float, num_digits: int, floor: bool = True) -> torch.Tensor:
    """Digits (..., num_digits) of n, lowest first: digit m = floor(n / beta^(m-1)) mod beta. Chapter: rope-beta-base.

    ``beta`` is any real > 1 (RoPE's beta = base^(2/d) is not an integer). With ``floor=False`` the quotient
    is not rounded down, so digit m is the sawtooth (n / beta^(m-1)) mod beta. Float64; n finite and >= 0.
    """
    beta = _checks.real_number("beta", beta, positive=True)
    if beta <= 1.0:
        raise ValueError(f"beta must be > 1 (a base of a positional number system), got {beta}")
    _checks.positive_int("num_digits", num_digits)
    n = _checks.finite("n", torch.as_tensor(n, dtype=torch.float64))
    if bool((n < 0).any()):
        raise ValueError("n must be >= 0 everywhere (digits of a non-negative number)")
    powers = torch.full((num_digits,), beta, dtype=torch.float64).cumprod(0) / beta  # beta^0 .. beta^(M-1), exact
    quotients = n[..., None] / powers  # (..., num_digits)
    return torch.remainder(quotients.floor() if floor else quotients, beta)


def angle_overshoot(
    freqs: torch.Tensor, scaled_freqs: torch.Tensor, train_len: int, test_len: int, full_turns_seen: bool = True
) -> torch.Tensor:
    """Per pair (d/2,), trained position steps by which test angles pass trained ones. Chapter: rope-beta-base.

    Training at positions 0 .. train_len - 1 with ``freqs`` shows pair i angles up to (train_len - 1) theta_i;
    testing at 0 .. test_len - 1 with ``scaled_freqs`` reaches (test_len - 1) theta'_i. The overshoot is
    max(0, (test_len - 1) theta'_i / theta_i - (train_len - 1)). With ``full_turns_seen`` it is 0 for a pair whose
    trained angles already went once round the circle, (train_len - 1) theta_i >= 2 pi.
    """
    for name, f in (("freqs", freqs), ("scaled_freqs", scaled_freqs)):
        if not bool((_checks.freqs(name, f) > 0).all()):
            raise ValueError(f"{name} must be > 0 everywhere")
    if freqs.shape != scaled_freqs.shape:
        raise ValueError(
            f"scaled_freqs must have the shape of freqs {tuple(freqs.shape)}, got {tuple(scaled_freqs.shape)}"
        )
    _checks.positive_int("train_len", train_len)
    _checks.positive_int("test_len", test_len)
    theta, theta_new = freqs.to(torch.float64), scaled_freqs.to(torch.float64)
    overshoot = ((test_len - 1) * theta_new / theta - (train_len - 1)).clamp(min=0.0)  # (d/2,)
    if full_turns_seen:
        overshoot = torch.where((train_len - 1) * theta >= 2 * math.pi, 0.0, overshoot)
    return overshoot
