"""The claims of the rope-2d chapter (post 8397), re-checked on seeds the chapter does not use.

The chapter draws its random vectors and positions with seeds 0-9. Here the same checks run on seeds 10-19
against references built independently of ``apply_rope_2d``: 2 x 2 rotation blocks written out with cos and
sin, the closed form of the all-ones logit, and sympy solves posed in another order. Each test names the
chapter's check cell (``# check: <label>``).
"""

import math

import pytest
import sympy as sp
import torch

from attnviz.positions import apply_rope, apply_rope_2d, rope_frequencies

SEEDS = list(range(10, 20))
D = 16
FREQS = rope_frequencies(D // 2)  # (d/4,) = 1, 0.1, 0.01, 0.001


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _block(angles: list[float]) -> torch.Tensor:
    """Block-diagonal rotation with one 2 x 2 block per angle, written out by hand."""
    R = torch.zeros(2 * len(angles), 2 * len(angles), dtype=torch.float64)
    for i, a in enumerate(angles):
        c, s = math.cos(a), math.sin(a)
        R[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return R


def _by_hand(x: float, y: float) -> torch.Tensor:
    """The post's R_{x,y} for d = 16: x rotates the first half, y the second, at FREQS."""
    return _block([x * f for f in FREQS.tolist()] + [y * f for f in FREQS.tolist()])


@pytest.mark.parametrize("seed", SEEDS)
def test_apply_rope_2d_is_the_block_matrix_and_relative(seed):
    """Cells apply-matches-matrix and relativity-random."""
    gen = _gen(seed)
    q, k = torch.randn(2, 8, D, dtype=torch.float64, generator=gen)  # (n, d) each
    p1, p2 = torch.rand(2, 8, 2, dtype=torch.float64, generator=gen) * 200 - 100  # (n, 2) each
    want = torch.stack([_by_hand(*p.tolist()) @ v for p, v in zip(p1, q, strict=True)])
    torch.testing.assert_close(apply_rope_2d(q, p1, FREQS), want, rtol=0, atol=1e-12)
    both = (apply_rope_2d(q, p1, FREQS) * apply_rope_2d(k, p2, FREQS)).sum(-1)  # (n,)
    offset = torch.stack([qi @ _by_hand(*(b - a).tolist()) @ ki for qi, ki, a, b in zip(q, k, p1, p2, strict=True)])
    torch.testing.assert_close(both, offset, rtol=0, atol=1e-11)


@pytest.mark.parametrize("seed", SEEDS)
def test_positions_come_back_from_the_slowest_pairs(seed):
    """Cell invertibility: the angle of each half's slowest pair gives x and y below pi / f_min."""
    P = torch.randint(0, 3000, (50, 2), generator=_gen(seed))  # (n, 2), 3000 < pi / 1e-3
    e0 = torch.zeros(50, D, dtype=torch.float64)
    e0[:, 6], e0[:, 14] = 1.0, 1.0  # first coordinate of the slowest pair of each half
    out = apply_rope_2d(e0, P, FREQS)  # (n, d): (cos, sin) of x f_min and y f_min
    back = torch.stack((out[:, 7].atan2(out[:, 6]), out[:, 15].atan2(out[:, 14])), -1) / FREQS[-1]
    assert torch.equal(back.round().long(), P)


@pytest.mark.parametrize("seed", SEEDS)
def test_quaternion_exponent_breaks_relativity_and_the_4x4_family_keeps_it(seed):
    """Cells quaternion-fails and family-structure, at other positions and other (b, c, f)."""
    gen = _gen(seed)
    i_img = torch.tensor([[0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 0, -1], [0, 0, 1, 0]], dtype=torch.float64)
    j_img = torch.tensor([[0, 0, -1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, -1, 0, 0]], dtype=torch.float64)
    b, c, f = torch.randn(3, dtype=torch.float64, generator=gen).tolist()
    B1 = torch.tensor([[0, -1, -b, 0], [1, 0, -c, 0], [b, c, 0, 0], [0, 0, 0, 0]], dtype=torch.float64)
    d, e = c * f, -b * f  # the post's solution
    B2 = torch.tensor([[0, 0, 0, -d], [0, 0, 0, -e], [0, 0, 0, -f], [d, e, f, 0]], dtype=torch.float64)
    x1, y1, x2, y2 = (torch.rand(4, dtype=torch.float64, generator=gen) * 6 + 1).tolist()

    def residual(A, B):
        R = lambda x, y: torch.linalg.matrix_exp(x * A + y * B)  # noqa: E731
        return (R(x1, y1).T @ R(x2, y2) - R(x2 - x1, y2 - y1)).abs().max().item()

    assert residual(B1, B2) < 1e-11
    assert residual(0.7 * i_img, 0.7 * j_img) > 1e-2  # the images of i and j anticommute
    assert (B1 @ B2).abs().max() < 1e-15 and (B2 @ B1).abs().max() < 1e-15


def test_sympy_solves_of_the_post():
    """Cells three-by-three and four-by-four, posed as: which (d, e) make the commutator vanish for every f?"""
    b, c, d, e, f = sp.symbols("b c d e f", real=True)

    def skew4(p):  # p = (a, b, c, d, e, f), the post's parameter order
        a_, b_, c_, d_, e_, f_ = p
        return sp.Matrix([[0, -a_, -b_, -d_], [a_, 0, -c_, -e_], [b_, c_, 0, -f_], [d_, e_, f_, 0]])

    B1, B2 = skew4((1, b, c, 0, 0, 0)), skew4((0, 0, 0, d, e, f))
    comm = (B1 * B2 - B2 * B1).subs({d: c * f, e: -b * f}).expand()
    assert comm == sp.zeros(4, 4)
    assert (B1 * B2 - B2 * B1).subs({d: c * f, e: b * f}).expand() != sp.zeros(4, 4)  # the sign matters
    B3 = sp.Matrix([[0, -1, 0], [1, 0, 0], [0, 0, 0]])
    C3 = sp.Matrix([[0, 0, -b], [0, 0, -c], [b, c, 0]])
    assert sp.solve(list(B3 * C3 - C3 * B3), [b, c], dict=True) == [{b: 0, c: 0}]


@pytest.mark.parametrize("base", [100.0, 10000.0])
def test_grid_logit_is_the_closed_form_and_symmetric_between_axes(base):
    """Cell axis-symmetry: q = k = 1 gives sum_i 2 cos(f_i dx) + 2 cos(f_i dy); flattening breaks the symmetry."""
    n = 11
    f2, f1 = rope_frequencies(D // 2, base), rope_frequencies(D, base)
    dx, dy = torch.meshgrid(torch.arange(n) - n // 2, torch.arange(n) - n // 2, indexing="ij")
    offsets = torch.stack((dx.flatten(), dy.flatten()), -1).double()  # (n n, 2)
    ones = torch.ones(n * n, D, dtype=torch.float64)
    s2 = (ones * apply_rope_2d(ones, offsets, f2)).sum(-1).reshape(n, n)  # query at the origin
    closed = 2 * (torch.cos(dx[..., None] * f2).sum(-1) + torch.cos(dy[..., None] * f2).sum(-1))
    torch.testing.assert_close(s2, closed.double(), rtol=0, atol=1e-12)
    torch.testing.assert_close(s2, s2.T, rtol=0, atol=1e-12)
    c = n // 2
    assert abs(s2[c + 3, c + 4] - s2[c + 5, c]) > 0.1  # symmetric between the axes, not round
    flat = offsets[:, 0] * n + offsets[:, 1]  # (n n,)
    s1 = (ones * apply_rope(ones, flat, f1)).sum(-1).reshape(n, n)
    assert abs(s1[c + 1, c] - s1[c, c + 1]) > 0.5  # one step down is not one step right
