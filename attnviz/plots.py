"""One look for every figure of the book: each function draws one figure and returns it.

Figures are :class:`BookFigure` objects, not registered with pyplot: a notebook shows a figure
exactly once (when it is the cell's value, through ``_repr_png_``, in any frontend), and nothing
leaks between explorer frames.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

WEIGHTS_CMAP = "viridis"  # the colormap of attention weights in every chapter
RC = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
}


class BookFigure(Figure):
    """A matplotlib Figure that displays itself as a PNG in notebooks. Chapter: rope-rotation."""

    def _repr_png_(self) -> bytes:
        return to_png(self)


# Fixed axes rectangles (left, bottom, width, height) for the book's standard figures. A fixed
# layout draws about twice as fast as matplotlib's constrained layout, which measures every tick
# label first; that keeps live explorers responsive (python -m attnviz.bench explore).
CURVES_RECT = (0.11, 0.15, 0.86, 0.81)
MAP_RECT, COLORBAR_RECT = (0.14, 0.12, 0.66, 0.83), (0.83, 0.12, 0.035, 0.83)


def new_figure(width: float = 6.0, height: float = 3.5, rect: tuple | None = None) -> tuple[Figure, Axes]:
    """Figure and axes in the book style; ``rect`` fixes the axes, else constrained layout. Chapter: rope-rotation."""
    with matplotlib.rc_context(RC):
        fig = BookFigure(figsize=(width, height), layout=None if rect else "constrained")
        ax = fig.add_axes(rect) if rect else fig.add_subplot()
    return fig, ax


def attention_map(
    weights: torch.Tensor, tokens: Sequence[str] | None = None, ax: Axes | None = None, *, label: str = "weight"
) -> Figure:
    """Heat map of one (n_q, n_k) matrix of attention weights (or logits), as a figure. Chapter: rope-rotation."""
    if not isinstance(weights, torch.Tensor) or weights.dim() != 2:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"weights must be a 2-D tensor (n_q, n_k), got {shape}")
    n_q, n_k = weights.shape
    if tokens is not None and len(tokens) != n_k:
        raise ValueError(f"tokens must have one label per key: n_k = {n_k}, got {len(tokens)}")
    fixed = ax is None and tokens is None  # token labels vary in length: let the layout engine place them
    fig, ax = (new_figure(4.8, 4.0, MAP_RECT if fixed else None)) if ax is None else (ax.figure, ax)
    with matplotlib.rc_context(RC):
        image = ax.imshow(weights.detach().double().cpu().numpy(), cmap=WEIGHTS_CMAP, aspect="auto")
        ax.grid(False)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        if tokens is not None:
            ax.set_xticks(range(n_k), tokens, rotation=90)
            if n_q == n_k:
                ax.set_yticks(range(n_q), tokens)
        if fixed:
            fig.colorbar(image, cax=fig.add_axes(COLORBAR_RECT), label=label)
        else:
            fig.colorbar(image, ax=ax, label=label)
    return fig


def curves(
    x: Sequence[float] | torch.Tensor,
    ys: Mapping[str, Sequence[float] | torch.Tensor],
    *,
    xlabel: str,
    ylabel: str,
    ax: Axes | None = None,
    logx: bool = False,
    logy: bool = False,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Line plot of several named curves y(x) sharing one x axis; returns the figure. Chapter: rope-rotation."""
    if not isinstance(ys, Mapping) or not ys:
        raise ValueError("ys must be a non-empty mapping from curve label to values")
    x = torch.as_tensor(x, dtype=torch.float64).cpu()
    fig, ax = new_figure(6.0, 3.5, CURVES_RECT) if ax is None else (ax.figure, ax)
    with matplotlib.rc_context(RC):
        for name, y in ys.items():
            y = torch.as_tensor(y, dtype=torch.float64).cpu()
            if y.shape != x.shape:
                raise ValueError(f"curve {name!r} has shape {tuple(y.shape)}, x has {tuple(x.shape)}")
            ax.plot(x.numpy(), y.numpy(), label=name, linewidth=1.4)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_xscale("log" if logx else "linear")
        ax.set_yscale("log" if logy else "linear")
        if ylim is not None:
            ax.set_ylim(*ylim)
        if len(ys) > 1:
            ax.legend()
    return fig


def to_png(fig: Figure, dpi: float | None = None, fast: bool = False) -> bytes:
    """PNG bytes of a figure; ``fast`` trades size for speed (live explorers). Chapter: rope-rotation."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1} if fast else None)
    return buffer.getvalue()
