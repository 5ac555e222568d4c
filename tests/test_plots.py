"""Figures: one call per figure, the book's colormap, clear errors."""

import pytest
import torch
from matplotlib.figure import Figure

from attnviz import plots


def test_attention_map_uses_book_colormap_and_labels():
    fig = plots.attention_map(torch.softmax(torch.randn(4, 4), -1), tokens=list("abcd"))
    ax = fig.axes[0]
    assert isinstance(fig, Figure)
    assert ax.images[0].get_cmap().name == plots.WEIGHTS_CMAP
    assert ax.get_xlabel() == "key position" and [t.get_text() for t in ax.get_xticklabels()] == list("abcd")


def test_curves_draws_one_line_per_curve():
    x = torch.arange(5.0)
    fig = plots.curves(x, {"a": x, "b": x**2}, xlabel="r", ylabel="y", logy=True)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["a", "b"]
    assert list(lines[1].get_ydata()) == [0, 1, 4, 9, 16]
    assert fig.axes[0].get_yscale() == "log"
    assert plots.to_png(fig)[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plots.attention_map(torch.zeros(2, 3, 3)), "2-D tensor"),
        (lambda: plots.attention_map(torch.zeros(3, 3), tokens=["a"]), "one label per key"),
        (lambda: plots.curves([0, 1], {}, xlabel="x", ylabel="y"), "non-empty mapping"),
        (lambda: plots.curves([0, 1], {"a": [1, 2, 3]}, xlabel="x", ylabel="y"), "curve 'a' has shape"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
