"""Base-beta digits, RoPE angles and angle overshoot (chapter rope-beta-base) against independent references."""

import math

import pytest
import sympy as sp
import torch

from attnviz.positions import (
    angle_overshoot,
    apply_rope,
    beta_digits,
    rope_angles,
    rope_frequencies,
    sinusoidal,
)


@pytest.mark.parametrize("beta", [2, 3, 10, 13, 16])
def test_integer_base_digits_match_sympy(beta):
    n = torch.arange(4096)
    got = beta_digits(n, beta, 12)  # (4096, 12), lowest digit first
    for value in [0, 1, beta - 1, beta, 1749, 4095]:
        ref = sp.ntheory.digits(value, beta)[1:][::-1]  # sympy: [base, highest, ..., lowest]
        ref = ref + [0] * (12 - len(ref))
        assert got[value].tolist() == [float(x) for x in ref]
    powers = torch.tensor([float(beta) ** m for m in range(12)], dtype=torch.float64)
    assert torch.equal((got * powers).sum(-1), n.double())  # the digits rebuild n exactly


def test_post_examples():
    assert beta_digits(1749, 16, 3).tolist() == [5.0, 13.0, 6.0]  # [6, 13, 5] read highest first
    assert beta_digits(1749, 10, 4).tolist() == [9.0, 4.0, 7.0, 1.0]
    assert beta_digits(874.5, 10, 3, floor=False)[0].item() == 4.5


def test_digits_of_a_real_base_and_the_unfloored_sawtooth():
    beta = 10000 ** (2 / 128)
    n = torch.linspace(0, 5000, 1001, dtype=torch.float64)
    floored, sawtooth = beta_digits(n, beta, 64), beta_digits(n, beta, 64, floor=False)
    assert bool(((floored >= 0) & (floored < beta)).all())
    assert bool(((sawtooth >= 0) & (sawtooth < beta)).all())
    m = torch.arange(64, dtype=torch.float64)
    expected = torch.remainder(n[:, None] / beta**m, beta)
    assert torch.allclose(sawtooth, expected, atol=1e-9, rtol=0)
    assert beta_digits(torch.zeros(2, 3), beta, 5).shape == (2, 3, 5)


def test_rope_phase_is_a_rescaled_unfloored_digit():
    d = 64
    beta = 10000 ** (2 / d)
    n = torch.arange(0, 3000, 7, dtype=torch.float64)
    phase = rope_angles(n, rope_frequencies(d), wrap=True)  # (len(n), d/2)
    digit = beta_digits(n * beta / (2 * math.pi), beta, d // 2, floor=False)
    rebuilt = 2 * math.pi / beta * digit
    assert torch.allclose(phase.cos(), rebuilt.cos(), atol=1e-9, rtol=0)
    assert torch.allclose(phase.sin(), rebuilt.sin(), atol=1e-9, rtol=0)


def test_rope_angles_agree_with_apply_rope_and_sinusoidal():
    d, freqs = 16, rope_frequencies(16, base=300.0)
    positions = torch.tensor([0.0, 1.0, 5.0, 77.0, 1234.0])
    unit = torch.tensor([1.0, 0.0] * (d // 2), dtype=torch.float64).expand(5, d)
    rotated = apply_rope(unit, positions, freqs)  # pair i becomes (cos n theta_i, sin n theta_i)
    angles = rope_angles(positions, freqs)
    assert torch.allclose(rotated[:, 0::2], angles.cos(), atol=1e-12, rtol=0)
    assert torch.allclose(rotated[:, 1::2], angles.sin(), atol=1e-12, rtol=0)
    table = sinusoidal(1235, d, base=300.0)[positions.long()]
    assert torch.allclose(table[:, 0::2], angles.sin(), atol=1e-12, rtol=0)


def test_wrapped_angles_lie_in_a_turn_and_keep_cos_sin():
    freqs = rope_frequencies(32)
    positions = torch.tensor([-3.0, 0.0, 10.0, 9999.0])
    raw, wrapped = rope_angles(positions, freqs), rope_angles(positions, freqs, wrap=True)
    assert bool(((wrapped >= 0) & (wrapped < 2 * math.pi)).all())
    assert torch.allclose(raw.cos(), wrapped.cos(), atol=1e-10, rtol=0)
    assert torch.allclose(raw.sin(), wrapped.sin(), atol=1e-10, rtol=0)
    assert rope_angles(5.0, freqs).shape == (16,)


def test_overshoot_closed_forms():
    d, k, L_train = 128, 8, 512
    L_test = k * L_train
    theta = rope_frequencies(d)
    i = torch.arange(d // 2, dtype=torch.float64)
    raw = dict(full_turns_seen=False)
    direct = angle_overshoot(theta, theta, L_train, L_test, **raw)
    assert torch.allclose(direct, torch.full_like(theta, L_test - L_train), atol=1e-9, rtol=0)
    pi = angle_overshoot(theta, rope_frequencies(d, scaling="linear", factor=k), L_train, L_test, **raw)
    assert torch.allclose(pi, torch.full_like(theta, 1 - 1 / k), atol=1e-9, rtol=0)
    ntk = angle_overshoot(theta, rope_frequencies(d, scaling="ntk", factor=k), L_train, L_test, **raw)
    expected = (L_test - 1) * k ** (-2 * i / (d - 2)) - (L_train - 1)
    assert torch.allclose(ntk, expected, atol=1e-8, rtol=1e-12)


def test_overshoot_ignores_pairs_that_turned_fully_in_training():
    d, L_train = 128, 512
    theta = rope_frequencies(d)
    seen = angle_overshoot(theta, theta, L_train, 4096)
    full_turn = (L_train - 1) * theta >= 2 * math.pi
    assert int(full_turn.sum()) == 31  # pairs 0..30
    assert bool((seen[full_turn] == 0).all())
    assert torch.allclose(seen[~full_turn], torch.full((33,), 3584.0, dtype=torch.float64), atol=1e-9, rtol=0)


def test_no_overshoot_when_testing_shorter_or_slower():
    theta = rope_frequencies(16)
    assert bool((angle_overshoot(theta, theta, 512, 100, full_turns_seen=False) == 0).all())
    assert bool((angle_overshoot(theta, theta / 10, 512, 4096, full_turns_seen=False) == 0).all())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: beta_digits(10, 1.0, 3), "beta"),
        (lambda: beta_digits(10, -2.0, 3), "beta"),
        (lambda: beta_digits(10, 10, 0), "num_digits"),
        (lambda: beta_digits(-1, 10, 3), "n must be >= 0"),
        (lambda: beta_digits(float("nan"), 10, 3), "n must be finite"),
        (lambda: rope_angles([1.0], torch.ones(2, 2)), "freqs"),
        (lambda: rope_angles([float("inf")], torch.ones(2)), "positions"),
        (lambda: rope_angles([1.0], [1.0, 2.0]), "freqs"),
        (lambda: angle_overshoot(torch.ones(4), torch.ones(3), 8, 16), "scaled_freqs"),
        (lambda: angle_overshoot(torch.ones(4), -torch.ones(4), 8, 16), "scaled_freqs"),
        (lambda: angle_overshoot(torch.zeros(4), torch.ones(4), 8, 16), "freqs"),
        (lambda: angle_overshoot(torch.ones(4), torch.ones(4), 0, 16), "train_len"),
        (lambda: angle_overshoot(torch.ones(4), torch.ones(4), 8, 2.5), "test_len"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
