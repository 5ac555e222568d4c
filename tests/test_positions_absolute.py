"""The sinusoidal table (attnviz.positions.absolute) against its closed form and Transformer's relative property."""

import math

import pytest
import torch

from attnviz.positions import sinusoidal


def test_sinusoidal_entries_match_the_closed_form():
    p = sinusoidal(50, 8)
    for k, i in [(0, 0), (3, 0), (3, 2), (49, 3)]:
        theta = 10000 ** (-2 * i / 8)
        assert math.isclose(p[k, 2 * i].item(), math.sin(k * theta), abs_tol=1e-15)
        assert math.isclose(p[k, 2 * i + 1].item(), math.cos(k * theta), abs_tol=1e-15)
    assert p.shape == (50, 8) and p.dtype == torch.float64


def test_dot_product_depends_on_the_offset_only():
    p = sinusoidal(50, 8, base=100.0)
    theta = torch.tensor([100 ** (-2 * i / 8) for i in range(4)], dtype=torch.float64)
    # p_m . p_n = sum_i cos((m - n) theta_i): a function of m - n only
    assert torch.allclose(p[10] @ p[4], torch.cos(6 * theta).sum(), atol=1e-12, rtol=0)
    assert torch.allclose(p[30] @ p[24], p[10] @ p[4], atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sinusoidal(0, 8), "n must be >= 1"),
        (lambda: sinusoidal(4, 7), "d must be even"),
        (lambda: sinusoidal(4, 8, base=1.0), "base must differ from 1"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
