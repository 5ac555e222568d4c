"""Survey position schemes (attnviz.positions.survey) against independent references.

T5's buckets against transformers' T5Attention._relative_position_bucket and the table printed in post 8130;
the T5 bias against a per-entry gather; Shaw et al.'s clipped relative positions against their definition
written as a loop; the hierarchical extension of post 7947 against the post's 1-based formula, by hand.
"""

import pytest
import torch

from attnviz.positions.survey import clipped_relative, hierarchical_positions, t5_bias_table, t5_bucket

transformers_t5 = pytest.importorskip("transformers.models.t5.modeling_t5")

RELATIVE = torch.arange(-1000, 1001)  # (2001,): key - query
SETTINGS = [(32, 128), (16, 64), (64, 256), (8, 20), (9, 128), (18, 128), (33, 100), (128, 1000)]


# --- T5 buckets ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize(("num_buckets", "max_distance"), SETTINGS)
def test_t5_bucket_equals_transformers(bidirectional, num_buckets, max_distance):
    ours = t5_bucket(RELATIVE, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance)
    reference = transformers_t5.T5Attention._relative_position_bucket(
        RELATIVE, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    assert ours.dtype == torch.int64 and ours.shape == RELATIVE.shape
    assert torch.equal(ours, reference.to(torch.int64))


def test_t5_bucket_reproduces_the_table_in_post_8130():
    # 8130 tabulates f(i - j) for i - j = 0..30 (query minus key), T5's defaults: 32 buckets, max distance 128
    table = [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 9, 9, 9, 9] + [10] * 7 + [11] * 8
    assert t5_bucket(-torch.arange(31)).tolist() == table


def test_t5_bucket_directions_and_far_keys():
    rel = torch.tensor([-5000, -128, -1, 0, 1, 7, 8, 128, 5000])
    both = t5_bucket(rel)  # 16 buckets per side, keys after the query offset by 16
    assert both.tolist() == [15, 15, 1, 0, 17, 23, 24, 31, 31]
    causal = t5_bucket(rel, bidirectional=False)  # 32 buckets for keys before the query, 0 for the rest
    assert causal.tolist() == [31, 31, 1, 0, 0, 0, 0, 0, 0]
    grid = torch.arange(-6, 6).reshape(3, 2, 2)  # any shape works
    assert t5_bucket(grid).shape == (3, 2, 2)


def test_t5_bucket_rejects_bad_input():
    with pytest.raises(ValueError, match="relative_position"):
        t5_bucket(torch.zeros(3))
    with pytest.raises(ValueError, match="relative_position"):
        t5_bucket([1, 2])
    with pytest.raises(ValueError, match="num_buckets"):
        t5_bucket(RELATIVE, num_buckets=2)
    with pytest.raises(ValueError, match="num_buckets"):
        t5_bucket(RELATIVE, num_buckets=0)
    with pytest.raises(ValueError, match="max_distance"):
        t5_bucket(RELATIVE, num_buckets=32, max_distance=8)
    with pytest.raises(ValueError, match="bidirectional"):
        t5_bucket(RELATIVE, bidirectional=1)


def test_t5_bias_table_gathers_per_head():
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(3, 16, generator=gen, dtype=torch.float64)  # (heads, num_buckets)
    bias = t5_bias_table(40, table, num_buckets=16, max_distance=20)
    assert bias.shape == (3, 40, 40) and bias.dtype == torch.float64
    for i in (0, 7, 39):
        for j in (0, 3, 25, 39):
            b = int(transformers_t5.T5Attention._relative_position_bucket(torch.tensor(j - i), True, 16, 20))
            assert torch.equal(bias[:, i, j], table[:, b])
    with pytest.raises(ValueError, match="table"):
        t5_bias_table(4, table, num_buckets=32)
    with pytest.raises(ValueError, match="n"):
        t5_bias_table(0, table, num_buckets=16)


# --- Shaw et al. / NEZHA clipping ------------------------------------------------------------------------------


def test_clipped_relative_follows_shaw_definition():
    n, k = 9, 3
    got = clipped_relative(n, k)
    assert got.dtype == torch.int64 and got.shape == (n, n)
    for i in range(n):  # Shaw et al. (2018): a_ij = w_{clip(j - i, k)}, clip(x, k) = max(-k, min(k, x))
        for j in range(n):
            assert got[i, j].item() == max(-k, min(k, j - i))
    assert got[0].tolist() == [0, 1, 2, 3, 3, 3, 3, 3, 3]  # query 0 sees keys to its right as positive


def test_clipped_relative_rejects_bad_input():
    with pytest.raises(ValueError, match="clip"):
        clipped_relative(4, 0)
    with pytest.raises(ValueError, match="n"):
        clipped_relative(-1, 2)


# --- hierarchical decomposition (7947) -------------------------------------------------------------------------


def test_hierarchical_keeps_the_trained_rows_and_has_n_squared_rows():
    gen = torch.Generator().manual_seed(1)
    p = torch.randn(12, 5, generator=gen, dtype=torch.float64)  # (n, d)
    q = hierarchical_positions(p)
    assert q.shape == (144, 5) and q.dtype == torch.float64
    assert torch.allclose(q[:12], p, rtol=0, atol=1e-14)
    assert hierarchical_positions(p, 0.3, 50).shape == (50, 5)
    assert torch.allclose(hierarchical_positions(p, 0.3, 7), p[:7], rtol=0, atol=1e-14)


def test_hierarchical_matches_the_post_formula_with_1_based_indices():
    gen = torch.Generator().manual_seed(2)
    p = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    alpha = 0.3
    q = hierarchical_positions(p, alpha)
    P = {i: p[i - 1] for i in range(1, 5)}  # 1-based p_1..p_n as in the post
    for i in range(1, 5):
        for j in range(1, 5):
            u_i = (P[i] - alpha * P[1]) / (1 - alpha)
            u_j = (P[j] - alpha * P[1]) / (1 - alpha)
            expected = alpha * u_i + (1 - alpha) * u_j  # q_{(i-1) n + j}
            assert torch.allclose(q[(i - 1) * 4 + j - 1], expected, rtol=0, atol=1e-14)


def test_hierarchical_small_case_by_hand():
    p = torch.tensor([[1.0], [3.0]], dtype=torch.float64)  # n = 2, d = 1, alpha = 0.25
    # u_1 = p_1 = 1, u_2 = (3 - 0.25) / 0.75 = 11/3; q_3 = 0.25 u_2 + 0.75 u_1 = 11/12 + 3/4 = 5/3
    # q_4 = u_2 = 11/3
    expected = torch.tensor([[1.0], [3.0], [5.0 / 3.0], [11.0 / 3.0]], dtype=torch.float64)
    assert torch.allclose(hierarchical_positions(p, 0.25), expected, rtol=0, atol=1e-14)


def test_hierarchical_rejects_bad_alpha_table_and_m():
    p = torch.randn(3, 2, dtype=torch.float64)
    for bad in (0.0, 1.0, -0.2, 1.5, float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            hierarchical_positions(p, bad)
    with pytest.raises(ValueError, match="alpha"):
        hierarchical_positions(p, 0.5)  # (i, j) and (j, i) would coincide
    with pytest.raises(ValueError, match="m"):
        hierarchical_positions(p, 0.4, 10)
    with pytest.raises(ValueError, match="table"):
        hierarchical_positions(torch.ones(3), 0.4)
    with pytest.raises(ValueError, match="table"):
        hierarchical_positions(torch.ones(3, 2, dtype=torch.int64), 0.4)


def test_alpha_half_would_collide():
    # why 0.5 is excluded: alpha u_i + (1 - alpha) u_j is symmetric in i, j only at alpha = 0.5
    p = torch.randn(3, 2, dtype=torch.float64)
    q = hierarchical_positions(p, 0.4).reshape(3, 3, 2)  # [i, j] -> position i n + j
    assert not torch.allclose(q[1, 2], q[2, 1], rtol=0, atol=1e-6)
