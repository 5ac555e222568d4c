"""2-D RoPE and multimodal position ids (attnviz.positions.rope2d) against matrices and the posts' rules."""

import itertools

import pytest
import torch

from attnviz.positions import apply_rope, rope_frequencies
from attnviz.positions.rope2d import apply_rope_2d, image_span, rope_tie_positions, rotation_matrix_2d

D = 16
TOL = {"rtol": 0.0, "atol": 1e-12}


@pytest.fixture
def qk():
    torch.manual_seed(0)
    return torch.randn(2, 5, D, dtype=torch.float64), torch.randn(2, 5, D, dtype=torch.float64)


def _logits(q, k, pq, pk, freqs):
    return apply_rope_2d(q, pq, freqs) @ apply_rope_2d(k, pk, freqs).transpose(-1, -2)  # (..., n, n)


def test_apply_rope_2d_equals_block_matrix(qk):
    q, _ = qk
    freqs = rope_frequencies(D // 2)  # (d/4,)
    pos = torch.tensor([[0, 0], [1, 3], [-2, 5], [7, 7], [40, 1]], dtype=torch.float64)
    rotated = apply_rope_2d(q, pos, freqs)
    mats = [rotation_matrix_2d(float(r), float(c), freqs) for r, c in pos]  # (d, d) each
    expected = torch.stack([q[:, i] @ m.T for i, m in enumerate(mats)], 1)  # (batch, n, d)
    assert torch.allclose(rotated, expected, **TOL)
    # the row moves only the first half, the column only the second
    only_row = apply_rope_2d(q, torch.tensor([[3.0, 0.0]]).expand(5, 2), freqs)
    assert torch.equal(only_row[..., D // 2 :], q[..., D // 2 :])
    assert not torch.allclose(only_row[..., : D // 2], q[..., : D // 2], **TOL)


def test_relativity_shift_both_positions(qk):
    q, k = qk
    freqs = rope_frequencies(D // 2)
    torch.manual_seed(1)
    pq, pk = torch.randint(-20, 20, (5, 2)).double(), torch.randint(-20, 20, (5, 2)).double()
    shift = torch.tensor([13.0, -7.0])
    assert torch.allclose(_logits(q, k, pq, pk, freqs), _logits(q, k, pq + shift, pk + shift, freqs), **TOL)
    # but moving only the keys changes the logits: the test can fail
    assert not torch.allclose(_logits(q, k, pq, pk, freqs), _logits(q, k, pq, pk + shift, freqs), **TOL)


def test_invertibility_on_a_grid():
    freqs = rope_frequencies(8)  # d = 16, (4,)
    mats = [rotation_matrix_2d(r, c, freqs) for r, c in itertools.product(range(6), range(6))]
    gaps = [float((a - b).abs().max()) for a, b in itertools.combinations(mats, 2)]
    assert min(gaps) > 1e-3


def test_symmetry_between_axes(qk):
    q, k = qk
    freqs = rope_frequencies(D // 2)
    pq, pk = torch.randn(5, 2, dtype=torch.float64) * 9, torch.randn(5, 2, dtype=torch.float64) * 9
    swap = torch.cat((torch.arange(D // 2, D), torch.arange(D // 2)))
    swapped = _logits(q[..., swap], k[..., swap], pq.flip(-1), pk.flip(-1), freqs)
    assert torch.allclose(_logits(q, k, pq, pk, freqs), swapped, **TOL)


def test_text_on_the_diagonal_is_exactly_1d_rope(qk):
    q, k = qk
    theta = rope_frequencies(D)  # (d/2,) the 1-D list
    n = rope_tie_positions([("text", 5)])  # (5, 2) = (i, i)
    pair = (theta[0::2], theta[1::2])  # x and y take disjoint, interleaved halves of the list
    two_d = _logits(q, k, n, n, pair)
    # 2-D pair j of the first half is 1-D pair 2j, pair j of the second half is 1-D pair 2j + 1
    pairs = torch.cat((torch.arange(0, D // 2, 2), torch.arange(1, D // 2, 2)))
    coords = torch.stack((2 * pairs, 2 * pairs + 1), -1).flatten()  # 2-D coordinate i is 1-D coordinate coords[i]
    q1, k1 = torch.empty_like(q), torch.empty_like(k)
    q1[..., coords], k1[..., coords] = q, k
    one_d = apply_rope(q1, n[:, 0], theta) @ apply_rope(k1, n[:, 0], theta).transpose(-1, -2)
    assert torch.allclose(two_d, one_d, **TOL)


@pytest.mark.parametrize("scheme", ["tie", "tv", "mrope"])
def test_text_only_gives_diagonal_ids(scheme):
    ids = rope_tie_positions([("text", 4), ("text", 3)], scheme)
    assert ids.tolist() == [[i, i] for i in range(7)]


def test_rope_tie_worked_example():
    # 10040: after text ending at L, an h x w image at (L + r s, L + c t), s = w+1, t = h+1, then K = L + (w+1)(h+1)
    ids = rope_tie_positions([("text", 3), ("image", 2, 3), ("text", 2)], "tie")
    assert ids.dtype == torch.int64
    L = 2  # last text id (0-based)
    image = [[L + r * 4, L + c * 3] for r in (1, 2) for c in (1, 2, 3)]
    assert ids.tolist() == [[0, 0], [1, 1], [2, 2], *image, [14, 14], [15, 15]]
    # equal gaps: first patch - last text = next text - last patch = (s, t) = (4, 3)
    assert (ids[3] - ids[2]).tolist() == (ids[9] - ids[8]).tolist() == [4, 3]


def test_rope_tv_rule():
    ids = rope_tie_positions([("text", 3), ("image", 2, 3), ("text", 1)], "tv")
    L, h, w = 2, 2, 3
    b1, b2 = L + (w * h - h) / 2, L + (w * h - w) / 2  # 10352: beta with gamma = 1
    assert ids[3:9].tolist() == [[b1 + r, b2 + c] for r in (1, 2) for c in (1, 2, 3)]
    assert ids[9].tolist() == [L + w * h + 1] * 2
    assert (ids[3] - ids[2]).tolist() == (ids[9] - ids[8]).tolist()  # symmetry


def test_mrope_rule():
    ids = rope_tie_positions([("text", 2), ("image", 2, 4), ("text", 1)], "mrope")
    assert ids[2:10].tolist() == [[2 + r, 2 + c] for r in range(2) for c in range(4)]
    assert ids[10].tolist() == [6, 6]  # max id 5, plus 1
    assert rope_tie_positions([("image", 1, 2)], "mrope").tolist() == [[0, 0], [0, 1]]


SPENT = [("tie", lambda h, w: (w + 1) * (h + 1) - 1), ("tv", lambda h, w: h * w), ("mrope", max)]


@pytest.mark.parametrize(("scheme", "spent"), SPENT)
def test_positions_spent_on_an_image(scheme, spent):
    for h, w in [(1, 1), (2, 3), (5, 2), (4, 4)]:
        ids = rope_tie_positions([("text", 1), ("image", h, w), ("text", 1)], scheme)
        assert float(ids[-1, 0] - ids[0, 0]) - 1 == spent(h, w) == image_span(h, w, scheme)


def test_bad_input():
    x = torch.zeros(3, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="d = 6"):
        apply_rope_2d(x, torch.zeros(3, 2), torch.ones(1, dtype=torch.float64))
    with pytest.raises(ValueError, match="positions"):
        apply_rope_2d(torch.zeros(3, 8, dtype=torch.float64), torch.zeros(3), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="freqs"):
        apply_rope_2d(torch.zeros(3, 8, dtype=torch.float64), torch.zeros(3, 2), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="scheme"):
        rope_tie_positions([("text", 2)], "flat")
    with pytest.raises(ValueError, match=r"segments\[1\] h"):
        rope_tie_positions([("text", 2), ("image", 0, 3)])
    with pytest.raises(ValueError, match="segments"):
        rope_tie_positions([])
    with pytest.raises(ValueError, match=r"segments\[0\]"):
        rope_tie_positions([("audio", 3)])
