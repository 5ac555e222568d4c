"""Explorers: live redraws, static frame stacks linked to the sliders, budgets and bad specs."""

import ipywidgets as widgets
import pytest
import torch

from attnviz import plots
from attnviz.explore import MAX_FRAMES, Slider, explore, explore_mode, frame_png


def draw(d=4, base=10.0, title="x"):
    x = torch.arange(10.0)
    return plots.curves(x, {title: torch.sin(x / base) * d}, xlabel="x", ylabel="y")


# static explorers are built from ipywidgets 8's Stack; the lower-bound environment (`make lowest`) has 7.7
needs_stack = pytest.mark.skipif(
    int(widgets.__version__.split(".")[0]) < 8, reason="static explorers need ipywidgets 8 (ipywidgets.Stack)"
)


def _sliders(box):
    return [w for w in box.children if isinstance(w, widgets.SelectionSlider)]


def test_live_mode_redraws_on_slider_change():
    box = explore(draw, mode="live", d=[4, 8, 16], base=Slider([10.0, 100.0], value=100.0))
    d, base = _sliders(box)
    image = box.children[-1]
    assert isinstance(image, widgets.Image) and len(image.value) > 0
    assert [label for label, _ in d.options] == ["4", "8", "16"]
    assert base.label == "100"  # starts at the requested value, labelled with the real value
    before = image.value
    d.value = 2
    assert image.value != before


@needs_stack
def test_static_mode_holds_every_combination_linked_to_sliders():
    box = explore(draw, mode="static", d=[4, 8, 16], base=[10.0, 100.0])
    d, base = _sliders(box)
    outer = box.children[-1]
    assert isinstance(outer, widgets.Stack) and len(outer.children) == 3
    assert all(isinstance(inner, widgets.Stack) and len(inner.children) == 2 for inner in outer.children)
    frames = {(i, j): outer.children[i].children[j].value for i in range(3) for j in range(2)}
    assert len(set(frames.values())) == 6  # six different pictures
    assert frames[2, 1] == frame_png(draw(d=16, base=100.0))  # frame (i, j) is drawn for those slider values
    # the browser switches frames through links from each slider to the stacks of its level
    links = {(link.source[0].description, id(link.target[0])) for link in box.links}
    assert {(link.source[1], link.target[1]) for link in box.links} == {("index", "selected_index")}
    assert links == {("d", id(outer))} | {("base", id(inner)) for inner in outer.children}


@needs_stack
def test_static_frame_budget_enforced():
    with pytest.raises(ValueError, match="MAX_FRAMES"):
        explore(draw, mode="static", d=list(range(MAX_FRAMES + 1)), base=[1.0, 2.0])


def test_mode_from_environment(monkeypatch):
    monkeypatch.setenv("ATTNVIZ_EXPLORE", "static")
    assert explore_mode() == "static"
    monkeypatch.setenv("ATTNVIZ_EXPLORE", "kernel-free")
    with pytest.raises(ValueError, match="ATTNVIZ_EXPLORE"):
        explore_mode()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "at least one slider"),
        ({"d": 4}, "list or tuple of values"),
        ({"d": "abc"}, "list or tuple of values"),
        ({"d": [4]}, "at least 2 values"),
        ({"d": [4, 4]}, "repeated values"),
        ({"d": Slider([4, 8], value=5)}, "not one of its values"),
        ({"base": Slider([1.0001, 1.0002], fmt="{:.2f}")}, "repeated labels"),
        ({"d": [4, 8], "mode": "paper"}, "mode must be one of"),
    ],
)
def test_bad_slider_specs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        explore(draw, **kwargs)


def test_draw_must_return_a_figure():
    with pytest.raises(ValueError, match="Figure"):
        explore(lambda d: None, mode="live", d=[1, 2])
    with pytest.raises(ValueError, match="draw must be a function"):
        explore("plot", d=[1, 2])


@needs_stack
def test_static_byte_budget_enforced():
    def noisy(seed):  # random pixels do not compress: far over the per-frame budget
        gen = torch.Generator().manual_seed(seed)
        return plots.attention_map(torch.rand(400, 400, generator=gen))

    with pytest.raises(ValueError, match="over the budget"):
        explore(noisy, mode="static", seed=[0, 1])


def test_static_explorers_name_the_ipywidgets_they_need(monkeypatch):
    monkeypatch.setattr(widgets, "__version__", "7.7.1")
    with pytest.raises(ValueError, match="static explorers need ipywidgets 8"):
        explore(draw, mode="static", d=[4, 8])
    assert len(explore(draw, mode="live", d=[4, 8]).children) == 2  # live mode is fine on 7.7
