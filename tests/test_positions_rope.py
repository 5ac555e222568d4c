"""RoPE (attnviz.positions.rope) against independent references: rotation matrices, complex numbers, sums."""

import math

import pytest
import torch

from attnviz.attention import scores
from attnviz.positions import (
    apply_rope,
    interleaved_to_half,
    rope_angles,
    rope_decay,
    rope_frequencies,
    rotation_matrix,
    sinusoidal,
)

D = 16


@pytest.fixture
def x():
    torch.manual_seed(0)
    return torch.randn(3, 7, D, dtype=torch.float64)  # (batch, n, d)


def test_frequencies_closed_form():
    theta = rope_frequencies(8, base=100.0)
    assert theta.dtype == torch.float64
    expected = torch.tensor([1.0, 100**-0.25, 100**-0.5, 100**-0.75], dtype=torch.float64)
    assert torch.allclose(theta, expected, rtol=1e-15, atol=0)


def test_apply_rope_equals_rotation_matrix(x):
    freqs = rope_frequencies(D)
    positions = torch.tensor([0.0, 1.0, 2.0, 5.0, 17.0, 300.0, 4095.0])
    rotated = apply_rope(x, positions, freqs)
    # row vectors: (R_m x^T)^T = x R_m^T, one matrix per position
    expected = torch.stack([x[:, i] @ rotation_matrix(float(m), freqs).T for i, m in enumerate(positions)], dim=1)
    assert torch.allclose(rotated, expected, atol=1e-12, rtol=0)


def test_rotation_matrix_blocks_are_2d_rotations():
    freqs = torch.tensor([0.3, 2.0], dtype=torch.float64)
    got = rotation_matrix(5.0, freqs)
    for i, theta in enumerate(freqs.tolist()):
        c, s = math.cos(5 * theta), math.sin(5 * theta)
        block = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
        assert torch.allclose(got[2 * i : 2 * i + 2, 2 * i : 2 * i + 2], block, atol=1e-15, rtol=0)
    assert got[0, 2:].abs().max().item() == 0.0  # off-diagonal blocks are zero


def test_apply_rope_equals_complex_multiplication(x):
    freqs = rope_frequencies(D, base=500.0)
    positions = torch.arange(7, dtype=torch.float64) * 3 - 4
    z = torch.view_as_complex(x.reshape(3, 7, D // 2, 2).contiguous())  # pairs (2i, 2i+1) as x_2i + i x_2i+1
    expected = torch.view_as_real(z * torch.exp(1j * positions[:, None] * freqs)).reshape(3, 7, D)
    assert torch.allclose(apply_rope(x, positions, freqs), expected, atol=1e-12, rtol=0)


def test_layouts_agree_after_permutation(x):
    freqs = rope_frequencies(D)
    positions = torch.arange(7.0)
    perm = interleaved_to_half(D)
    q, k = x, torch.roll(x, 1, dims=0)
    logits_interleaved = scores(apply_rope(q, positions, freqs), apply_rope(k, positions, freqs))
    logits_half = scores(
        apply_rope(q[..., perm], positions, freqs, layout="half"),
        apply_rope(k[..., perm], positions, freqs, layout="half"),
    )
    assert torch.allclose(logits_interleaved, logits_half, atol=1e-12, rtol=0)
    # and the rotated vectors themselves are the same up to that permutation
    half = apply_rope(q[..., perm], positions, freqs, "half")
    assert torch.allclose(apply_rope(q, positions, freqs)[..., perm], half, atol=1e-15, rtol=0)


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_logits_depend_only_on_relative_position(layout):
    torch.manual_seed(1)
    q, k = torch.randn(2, 1, D, dtype=torch.float64), torch.randn(2, 1, D, dtype=torch.float64)
    freqs = rope_frequencies(D)

    def logit(m, n):
        return scores(apply_rope(q, [m], freqs, layout), apply_rope(k, [n], freqs, layout), scale=1.0)

    for m, n, shift in [(3, 1, 10), (0, 9, 1000), (40, 40, -17), (5, 200, 12345)]:
        assert torch.allclose(logit(m, n), logit(m + shift, n + shift), atol=1e-9, rtol=0)
    assert not torch.allclose(logit(3, 1), logit(3, 2), atol=1e-3, rtol=0)  # but they do depend on m - n


def test_rotation_matrix_identity_RmT_Rn_equals_R_n_minus_m():
    freqs = rope_frequencies(D)
    for m, n in [(0, 0), (2, 7), (31, 5), (1000, 1001)]:
        lhs = rotation_matrix(m, freqs).T @ rotation_matrix(n, freqs)
        assert torch.allclose(lhs, rotation_matrix(n - m, freqs), atol=1e-12, rtol=0)


def test_rope_preserves_norms(x):
    rotated = apply_rope(x, torch.arange(7.0) * 1000, rope_frequencies(D))
    assert torch.allclose(rotated.norm(dim=-1), x.norm(dim=-1), atol=1e-12, rtol=0)


def test_float32_large_positions_keep_precision():
    torch.manual_seed(2)
    x = torch.randn(1, 4, D)
    positions = torch.tensor([1e5, 1e5 + 1, 2e5, 3e5 + 7])
    got = apply_rope(x, positions, rope_frequencies(D))
    ref = apply_rope(x.double(), positions, rope_frequencies(D))
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), ref, atol=1e-5, rtol=0)


def test_batched_positions_broadcast():
    torch.manual_seed(3)
    x = torch.randn(2, 5, D, dtype=torch.float64)
    positions = torch.stack([torch.arange(5.0), torch.arange(5.0) + 100])  # (batch, n)
    got = apply_rope(x, positions, rope_frequencies(D))
    assert torch.allclose(got[1], apply_rope(x[1], torch.arange(5.0) + 100, rope_frequencies(D)), atol=0, rtol=0)


def test_rope_decay_values():
    freqs = rope_frequencies(128)
    assert math.isclose(float(rope_decay(0, freqs)), 32.5, rel_tol=0, abs_tol=1e-12)  # (d/2 + 1) / 2
    got = rope_decay(torch.tensor([1.0, 10.0, 100.0, 256.0]), freqs)
    expected = torch.tensor([31.538, 17.954, 10.227, 6.543], dtype=torch.float64)  # the post's table
    assert torch.allclose(got, expected, atol=5e-4, rtol=0)


def test_rope_decay_equals_a_python_double_sum():
    freqs = rope_frequencies(8, base=50.0).tolist()
    r = 7.5
    partial, total = 0j, 0.0
    for theta in freqs:
        partial += complex(math.cos(r * theta), math.sin(r * theta))
        total += abs(partial)
    got = rope_decay(r, torch.tensor(freqs, dtype=torch.float64))
    assert math.isclose(float(got), total / len(freqs), rel_tol=1e-13)


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


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rope_frequencies(7), "d must be even"),
        (lambda: rope_frequencies(0), "d must be >= 1"),
        (lambda: rope_frequencies(8, base=-2.0), "base must be > 0"),
        (lambda: rope_frequencies(8, base=1.0), "base must differ from 1"),
        (lambda: apply_rope(torch.zeros(4, 7), torch.arange(4.0), rope_frequencies(8)), "even last dimension"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.arange(3.0), rope_frequencies(8)), "positions must have"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.arange(4.0), rope_frequencies(6)), "freqs must have length"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.arange(4.0), torch.ones(2, 2)), "freqs must be 1-D"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.tensor([0, 1, float("nan"), 3]), rope_frequencies(8)), "finite"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.tensor([0, 1, float("inf"), 3]), rope_frequencies(8)), "finite"),
        (lambda: apply_rope(torch.zeros(4, 8, dtype=torch.long), torch.arange(4.0), rope_frequencies(8)), "dtype"),
        (lambda: apply_rope([[0.0] * 8], [0.0], rope_frequencies(8)), "x must be a torch.Tensor"),
        (lambda: apply_rope(torch.zeros(4, 8), torch.arange(4.0), rope_frequencies(8), layout="llama"), "layout"),
        (lambda: apply_rope(torch.zeros(2, 4, 8), torch.zeros(3, 4), rope_frequencies(8)), "do not broadcast"),
        (lambda: rotation_matrix(float("nan"), rope_frequencies(8)), "position must be finite"),
        (lambda: rotation_matrix(1.0, torch.ones(2, 2)), "freqs must be 1-D"),
        (lambda: rope_decay(1.0, torch.ones(2, 2)), "freqs must be 1-D"),
        (lambda: rope_decay(1.0, torch.tensor([1.0, float("inf")])), "freqs must be finite"),
        (lambda: interleaved_to_half(5), "d must be even"),
        (lambda: rope_angles([1.0], torch.ones(2, 2)), "freqs"),
        (lambda: rope_angles([float("inf")], torch.ones(2)), "positions"),
        (lambda: rope_angles([1.0], [1.0, 2.0]), "freqs"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
