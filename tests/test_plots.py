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


def bounds(ax):
    return tuple(round(float(v), 6) for v in ax.get_position().bounds)


def test_new_figure_takes_named_layouts():
    fig, ax = plots.new_figure(5.4, 4.6, "tokens")
    assert bounds(ax) == plots.LAYOUTS["tokens"][1]
    fig = plots.attention_map(torch.softmax(torch.randn(3, 3), -1), tokens=list("abc"), layout="tokens")
    assert tuple(fig.get_size_inches()) == plots.LAYOUTS["tokens"][0] and len(fig.axes) == 2  # map and colorbar


def test_bars_heights_and_grouping():
    x = torch.arange(4)
    fig = plots.bars(x, torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64), xlabel="outcome", ylabel="probability")
    patches = fig.axes[0].patches
    assert [round(p.get_height(), 12) for p in patches] == [0.1, 0.2, 0.3, 0.4]
    assert fig.axes[0].get_legend() is None
    series = {"mean": [1, 2, 3, 4], "max": [4, 3, 2, 1], "min": [0, 0, 1, 0]}
    fig = plots.bars(x, series, xlabel="answer", ylabel="p", width=0.9, step=[0.5] * 4, step_label="prior")
    ax = fig.axes[0]
    assert len(ax.patches) == 12 and [p.get_height() for p in ax.patches[4:8]] == [4, 3, 2, 1]
    centres = [p.get_x() + p.get_width() / 2 for p in ax.patches[:12:4]]  # bar 0 of each series
    assert all(abs(c - e) < 1e-12 for c, e in zip(centres, [-0.3, 0.0, 0.3], strict=True))
    assert abs(ax.patches[0].get_width() - 0.3) < 1e-12
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["prior", "mean", "max", "min"]
    assert list(ax.get_lines()[0].get_ydata()) == [0.5] * 4


def test_hist_counts():
    values = torch.tensor([0.1, 0.2, 0.2, 0.7, 1.5, 2.9])
    fig = plots.hist(values, bins=[0.0, 1.0, 2.0, 3.0], density=False, xlabel="r", ylabel="pairs")
    assert [p.get_height() for p in fig.axes[0].patches] == [4, 1, 1]
    dens = plots.hist(values, bins=torch.tensor([0.0, 1.0, 2.0, 3.0]), xlabel="r")
    heights = [p.get_height() for p in dens.axes[0].patches]
    assert all(abs(h - e) < 1e-12 for h, e in zip(heights, [4 / 6, 1 / 6, 1 / 6], strict=True))


def test_scatter_points_and_colorbar():
    fig = plots.scatter(range(4), [3.0, 1.0, 2.0, 0.5], color=[0, 1, 2, 3], clabel="layer", xlabel="h", ylabel="s")
    ax, cax = fig.axes
    assert ax.collections[0].get_offsets().tolist() == [[0, 3], [1, 1], [2, 2], [3, 0.5]]
    assert list(ax.collections[0].get_array()) == [0, 1, 2, 3] and cax.get_ylabel() == "layer"
    assert ax.collections[0].get_cmap().name == plots.WEIGHTS_CMAP
    one = plots.scatter([1, 2, 4], [1, 2, 3], color="C3", connect=True, texts=["0", "1"], label="steps")
    ax = one.axes[0]
    assert len(one.axes) == 1 and len(ax.get_lines()) == 1  # the dotted path through the points
    assert [(t.get_text(), t.xy) for t in ax.texts] == [("0", (1.0, 1.0)), ("1", (2.0, 2.0))]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["steps"]


def test_panels_positions():
    fig, axes = plots.panels(2, width=8.0, height=3.2)
    assert len(axes) == len(fig.axes) == 2
    left, right = bounds(axes[0]), bounds(axes[1])
    assert left[0] == 0.07 and right[0] == 0.58 and left[2] == right[2] == 0.4  # side by side, equal widths
    fig, axes = plots.panels(3, layout="column")
    tops = [bounds(a)[1] for a in axes]
    assert tops == sorted(tops, reverse=True)  # reading order: top to bottom
    assert all(bounds(a)[1] > bounds(b)[1] + bounds(b)[3] for a, b in zip(axes, axes[1:], strict=False))  # no overlap


def test_mark_lines_and_points():
    fig = plots.curves([0, 1, 2], {"a": [0, 1, 2], "b": [2, 1, 0]}, xlabel="x", ylabel="y", legend="upper left")
    assert plots.mark(fig, x=[0.5, 1.5]) is fig
    ax = fig.axes[0]
    assert [list(line.get_xdata()) for line in ax.get_lines()[2:]] == [[0.5, 0.5], [1.5, 1.5]]
    plots.mark(ax, y=1.25, label="target", color="C1")
    assert list(ax.get_lines()[-1].get_ydata()) == [1.25, 1.25]
    plots.mark(ax, x=[1.0], y=[2.5], label="answer")
    point = ax.get_lines()[-1]
    assert list(point.get_xdata()) == [1.0] and list(point.get_ydata()) == [2.5] and point.get_marker() == "v"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "target", "answer"]
    plots.mark(ax, y=[0.1, 0.2], color=["C0", "C2"])
    assert [line.get_color() for line in ax.get_lines()[-2:]] == ["C0", "C2"]


def test_curves_references_and_scales():
    x = torch.linspace(0.1, 1, 5)
    fig = plots.curves(x, {"a": x}, refs={"limit": x * 0 + 0.5}, xlabel="x", ylabel="y", symlogy=1e-3, xlim=(0, 2))
    ax = fig.axes[0]
    assert ax.get_yscale() == "symlog" and ax.get_xlim() == (0, 2)
    assert ax.get_lines()[1].get_linestyle() == ":" and ax.get_legend() is not None


def test_check_grid_cells():
    holds = torch.tensor([[1.0, 0.0], [float("nan"), 1.0]])
    numbers = torch.tensor([[1e-3, -2e-3], [float("nan"), 5e-5]])
    fig = plots.check_grid(holds, xticks=[0.5, 1], yticks=["q1", "q2"], xlabel="p", ylabel="q", numbers=numbers)
    ax = fig.axes[0]
    assert ax.images[0].get_array().filled(-1).tolist() == [[1, 0], [-1, 1]]
    assert [t.get_text() for t in ax.texts] == ["+1e-03", "-2e-03", "+5e-05"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plots.new_figure(rect="huge"), "layout must be one of"),
        (lambda: plots.bars([0, 1], [1, 2, 3], xlabel="x", ylabel="y"), "heights '' has shape"),
        (lambda: plots.bars([0, 1], {}, xlabel="x", ylabel="y"), "non-empty mapping"),
        (lambda: plots.hist([1.0], bins=0, xlabel="x"), "bins must be an int >= 1"),
        (lambda: plots.scatter([0, 1], [1], xlabel="x", ylabel="y"), "same length"),
        (lambda: plots.panels(0), "n must be an int >= 1"),
        (lambda: plots.panels(2, layout="grid"), "layout must be 'row' or 'column'"),
        (lambda: plots.mark(plots.new_figure()[1]), "needs x"),
        (lambda: plots.mark(plots.new_figure()[1], y=[1, 2], color=["C0"]), "one per mark"),
        (lambda: plots.mark(plots.new_figure()[1], x=[1, 2], y=[1]), "as many x as y"),
        (lambda: plots.mark("axes", x=1), "target must be a matplotlib Axes"),
        (lambda: plots.check_grid(torch.ones(2, 2), xticks=[1], yticks=[1, 2], xlabel="p", ylabel="q"), "one ytick"),
        (lambda: plots.curves([0, 1], {"a": [0, 1]}, xlabel="x", ylabel="y", symlogx=0), "symlog threshold"),
    ],
)
def test_bad_input_new_kinds(call, message):
    with pytest.raises(ValueError, match=message):
        call()
