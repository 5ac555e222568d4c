"""Explorers: sliders that redraw a figure, live in a kernel and kernel-free in the built book.

``explore(draw, **sliders)`` takes a function ``draw(**values) -> matplotlib Figure`` and one
slider per keyword. Each slider is a sequence of the values it offers (or a :class:`Slider`
to choose the starting value and the label format). Two modes:

* ``"live"`` (Jupyter, Binder, Colab): one picture, redrawn by calling ``draw`` whenever a
  slider moves.
* ``"static"`` (the executed notebooks the book is built from): every combination of slider
  positions is drawn once, ahead of time, into nested ``Stack`` widgets; each slider's index is
  ``jslink``-ed to the ``selected_index`` of the stacks at its level, so the published page
  switches frames in the browser with no kernel. The frames of all sliders together form the
  product of their positions, so every combination is available; :data:`MAX_FRAMES` and
  :data:`MAX_FRAME_BYTES` bound the cost.

The mode comes from the environment variable ``ATTNVIZ_EXPLORE`` (``live`` by default); the
book build and the notebook tests set it to ``static``. Live explorers need ipywidgets 7.7 or
later (Colab ships 7.7.1, and installing attnviz there leaves it alone); static ones need 8.
"""

from __future__ import annotations

import io
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from numbers import Real

import ipywidgets as widgets
from matplotlib.figure import Figure
from PIL import Image

from . import plots

MAX_FRAMES = 64  # frames one static explorer may hold (product of all slider lengths)
MAX_FRAME_BYTES = 60_000  # average PNG bytes per frame allowed in a static explorer
FRAME_DPI = 96  # static frames: palette PNGs, small enough to embed dozens in a page
LIVE_DPI = 96  # live frames: fast, lightly compressed PNGs
MODES = ("live", "static")


@dataclass(frozen=True)
class Slider:
    """A slider: the values it offers, the starting value, and how its label shows a value. Chapter: rope-rotation."""

    values: Sequence
    value: object = None
    fmt: str = "{:g}"

    def labels(self) -> list[str]:
        return [self.fmt.format(v) if isinstance(v, Real) else str(v) for v in self.values]

    def start(self) -> int:
        return 0 if self.value is None else list(self.values).index(self.value)


def _slider_spec(name: str, spec: object) -> Slider:
    if not isinstance(spec, Slider):
        if isinstance(spec, (str, bytes)) or not isinstance(spec, Sequence):
            raise ValueError(f"slider {name!r} must be a list or tuple of values or a Slider, got {spec!r}")
        spec = Slider(tuple(spec))
    values = tuple(spec.values)
    if len(values) < 2:
        raise ValueError(f"slider {name!r} needs at least 2 values to move between, got {len(values)}")
    if len(set(map(repr, values))) != len(values):
        raise ValueError(f"slider {name!r} has repeated values: {values}")
    if spec.value is not None and spec.value not in values:
        raise ValueError(f"slider {name!r} starts at {spec.value!r}, which is not one of its values {values}")
    labels = Slider(values, spec.value, spec.fmt).labels()
    if len(set(labels)) != len(labels):
        raise ValueError(f"slider {name!r}: format {spec.fmt!r} gives repeated labels {labels}; use a finer fmt")
    return Slider(values, spec.value, spec.fmt)


def _check_figure(fig: object) -> None:
    if not isinstance(fig, Figure):
        raise ValueError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")


def frame_png(fig: Figure, dpi: int = FRAME_DPI) -> bytes:
    """Small PNG of a figure (palette-quantized), the frame format of explorers.

    Chapter: rope-rotation (via explore).
    """
    _check_figure(fig)
    image = (
        Image.open(io.BytesIO(plots.to_png(fig, dpi=dpi)))
        .convert("RGB")
        .quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def explore_mode() -> str:
    """The explorer mode from ``ATTNVIZ_EXPLORE``: "live" (default) or "static".

    Chapter: rope-rotation (via explore).
    """
    mode = os.environ.get("ATTNVIZ_EXPLORE", "live").strip().lower() or "live"
    if mode not in MODES:
        raise ValueError(f"environment variable ATTNVIZ_EXPLORE must be one of {MODES}, got {mode!r}")
    return mode


def explore(draw: Callable[..., Figure], mode: str | None = None, **sliders: object) -> widgets.VBox:
    """An explorer widget: one slider per keyword, the picture ``draw(**values)`` below them. Chapter: rope-rotation."""
    if not callable(draw):
        raise ValueError(f"draw must be a function returning a matplotlib Figure, got {draw!r}")
    if not sliders:
        raise ValueError("explore needs at least one slider, e.g. explore(draw, d=[16, 32, 64])")
    mode = explore_mode() if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    _enable_colab_widgets()
    specs = {name: _slider_spec(name, spec) for name, spec in sliders.items()}
    controls = {
        name: widgets.SelectionSlider(
            options=list(zip(spec.labels(), range(len(spec.values)), strict=True)),
            value=spec.start(),
            description=name,
            continuous_update=True,
            layout=widgets.Layout(width="420px"),
            style={"description_width": "80px"},
        )
        for name, spec in specs.items()
    }
    links: list[widgets.Link] = []
    if mode == "static":
        view = _static_view(draw, specs, controls, links)
    else:
        view = _live_view(draw, specs, controls)
    box = widgets.VBox([*controls.values(), view])
    box.add_class("attnviz-explorer")
    box.links = links  # the browser-side slider-to-stack links (static mode)
    return box


def _widgets_major() -> int:
    return int(widgets.__version__.split(".")[0])


def _enable_colab_widgets() -> None:
    """Colab renders ipywidgets 8 only through its custom widget manager (its own renders 7); switch it on there."""
    if "google.colab" in sys.modules and _widgets_major() >= 8:
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()


def _values(specs: dict[str, Slider], indices: Sequence[int]) -> dict[str, object]:
    return {name: spec.values[i] for (name, spec), i in zip(specs.items(), indices, strict=True)}


def _live_view(draw, specs, controls) -> widgets.Image:
    image = widgets.Image(format="png")

    def redraw(_change=None) -> None:
        indices = [control.value for control in controls.values()]
        fig = draw(**_values(specs, indices))
        _check_figure(fig)
        image.value = plots.to_png(fig, dpi=LIVE_DPI, fast=True)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return image


def _static_view(draw, specs, controls, links) -> widgets.Widget:
    if _widgets_major() < 8:
        raise ValueError(
            f"static explorers need ipywidgets 8 (its Stack widget); this is ipywidgets {widgets.__version__}. "
            "Live explorers work with 7.7 too: unset ATTNVIZ_EXPLORE or pass mode='live'"
        )
    count = math.prod(len(spec.values) for spec in specs.values())
    if count > MAX_FRAMES:
        raise ValueError(
            f"explorer needs {count} frames (the product of the slider lengths), more than MAX_FRAMES = {MAX_FRAMES}"
        )
    shape = [len(spec.values) for spec in specs.values()]
    frames = {ix: frame_png(draw(**_values(specs, ix))) for ix in product(*(range(n) for n in shape))}
    total = sum(map(len, frames.values()))
    if total > MAX_FRAME_BYTES * count:
        raise ValueError(
            f"explorer frames take {total} bytes, over the budget of {MAX_FRAME_BYTES} bytes per frame; "
            "draw smaller figures or offer fewer slider positions"
        )
    return _nest(frames, shape, (), list(controls.values()), links)


def _nest(frames, shape, prefix, controls, links) -> widgets.Widget:
    """Stack over the next slider's positions, each child the stack (or frame) for the remaining sliders."""
    level = len(prefix)
    if level == len(shape):
        return widgets.Image(value=frames[prefix], format="png")
    children = [_nest(frames, shape, (*prefix, i), controls, links) for i in range(shape[level])]
    stack = widgets.Stack(children, selected_index=controls[level].value)
    links.append(widgets.jslink((controls[level], "index"), (stack, "selected_index")))
    return stack
