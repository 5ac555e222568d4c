"""One look for every figure of the book: each function draws one figure and returns it.

Figures are :class:`BookFigure` objects, not registered with pyplot: a notebook shows a figure
exactly once (when it is the cell's value, through ``_repr_png_``, in any frontend), and nothing
leaks between explorer frames.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence

import matplotlib
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from . import _checks

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
    """A matplotlib Figure that displays itself as a PNG in notebooks.

    Chapter: rope-rotation (via curves, attention_map).
    """

    def _repr_png_(self) -> bytes:
        return to_png(self)


# Fixed axes rectangles (left, bottom, width, height) for the book's standard figures. A fixed
# layout draws about twice as fast as matplotlib's constrained layout, which measures every tick
# label first; that keeps live explorers responsive (python -m benchmarks explore).
CURVES_RECT = (0.11, 0.15, 0.86, 0.81)
MAP_RECT, COLORBAR_RECT = (0.14, 0.12, 0.66, 0.83), (0.83, 0.12, 0.035, 0.83)
SCATTER_RECT, SCATTER_COLORBAR_RECT = (0.11, 0.15, 0.73, 0.81), (0.86, 0.15, 0.025, 0.81)
# Named one-panel layouts: figure size (inches) and axes rectangle. Chapters name them, never type rectangles.
LAYOUTS: dict[str, tuple[tuple[float, float], tuple[float, float, float, float]]] = {
    "curves": ((6.0, 3.5), CURVES_RECT),  # the default: one panel, short tick labels
    "wide-ticks": ((6.0, 3.5), (0.17, 0.15, 0.8, 0.81)),  # long tick labels on the y axis (symlog)
    "tokens": ((5.4, 4.6), (0.17, 0.2, 0.8, 0.76)),  # a map with rotated token labels on both axes
}


def _layout(name: str) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
    if name not in LAYOUTS:
        raise ValueError(f"layout must be one of {tuple(LAYOUTS)}, got {name!r}")
    return LAYOUTS[name]


def _figure(layout: str) -> tuple[Figure, Axes]:
    """A new figure with one axes in the named fixed layout."""
    size, rect = _layout(layout)
    return new_figure(*size, rect)


def new_figure(width: float = 6.0, height: float = 3.5, rect: tuple | str | None = None) -> tuple[Figure, Axes]:
    """Figure and axes in the book style; ``rect`` (LAYOUTS name or tuple) fixes the axes.

    Chapter: rope-rotation (via curves, attention_map).
    """
    if isinstance(rect, str):
        rect = _layout(rect)[1]  # a named layout: its rectangle (the size is the caller's)
    with matplotlib.rc_context(RC):
        fig = BookFigure(figsize=(width, height), layout=None if rect else "constrained")
        ax = fig.add_axes(rect) if rect else fig.add_subplot()
    return fig, ax


def attention_map(
    weights: torch.Tensor,
    tokens: Sequence[str] | None = None,
    ax: Axes | None = None,
    *,
    label: str = "weight",
    layout: str | None = None,
) -> Figure:
    """Heat map of one (n_q, n_k) matrix of attention weights (or logits), as a figure. Chapter: rope-rotation."""
    if not isinstance(weights, torch.Tensor) or weights.dim() != 2:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise ValueError(f"weights must be a 2-D tensor (n_q, n_k), got {shape}")
    n_q, n_k = weights.shape
    if tokens is not None and len(tokens) != n_k:
        raise ValueError(f"tokens must have one label per key: n_k = {n_k}, got {len(tokens)}")
    fixed = ax is None and tokens is None and layout is None  # token labels vary: let the layout engine place them
    if ax is None and layout is not None:
        ax = _figure(layout)[1]  # a named fixed layout, e.g. "tokens"
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
    xlim: tuple[float, float] | None = None,
    refs: Mapping[str, Sequence[float] | torch.Tensor] | None = None,
    marker: str | None = None,
    symlogx: float | None = None,
    symlogy: float | None = None,
    legend: str = "best",
    layout: str = "curves",
) -> Figure:
    """Line plot of named curves y(x) (n,) on one x axis, ``refs`` dark and dashed. Chapter: rope-rotation."""
    if not isinstance(ys, Mapping) or not ys:
        raise ValueError("ys must be a non-empty mapping from curve label to values")
    if refs is not None and not isinstance(refs, Mapping):
        raise ValueError("refs must be a mapping from reference label to values, or None")
    x = torch.as_tensor(x, dtype=torch.float64).cpu()
    fig, ax = _figure(layout) if ax is None else (ax.figure, ax)
    with matplotlib.rc_context(RC):
        for name, y in ys.items():
            ax.plot(x.numpy(), _same_shape(f"curve {name!r}", y, x), label=name, linewidth=1.4, marker=marker)
        for (name, y), style in zip((refs or {}).items(), _REF_STYLES, strict=False):
            ax.plot(x.numpy(), _same_shape(f"reference {name!r}", y, x), style, color=_REF_COLOR, lw=1, label=name)
        _scale(ax.set_xscale, logx, symlogx)
        _scale(ax.set_yscale, logy, symlogy)
        _finish(ax, xlabel, ylabel, xlim, ylim)
        if len(ys) + len(refs or {}) > 1:
            ax.legend(loc=legend)
    return fig


_REF_COLOR, _REF_STYLES = "0.2", (":", "--", "-.", (0, (1, 3)))  # reference curves: dark grey, by style
_MARK_COLOR = "0.3"


def _scale(setter: Callable, log: bool, linthresh: float | None) -> None:
    if linthresh is not None:
        setter("symlog", linthresh=_checks.real_number("symlog threshold", linthresh, positive=True))
    else:
        setter("log" if log else "linear")


def _finish(ax: Axes, xlabel: str | None, ylabel: str | None, xlim: tuple | None, ylim: tuple | None) -> None:
    """Axis labels and limits, each where given."""
    for value, setter in ((xlabel, ax.set_xlabel), (ylabel, ax.set_ylabel), (xlim, ax.set_xlim), (ylim, ax.set_ylim)):
        if isinstance(value, tuple):
            setter(*value)
        elif value is not None:
            setter(value)


def _vector(name: str, values: object) -> torch.Tensor:
    """``values`` as a 1-D float64 CPU tensor."""
    try:
        t = torch.as_tensor(values if not isinstance(values, range) else list(values), dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a 1-D tensor or sequence of numbers, got {type(values).__name__}") from None
    if t.dim() != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    return t.detach().cpu()


def _same_shape(name: str, y: object, x: torch.Tensor):
    y = torch.as_tensor(y, dtype=torch.float64).detach().cpu()
    if y.shape != x.shape:
        raise ValueError(f"{name} has shape {tuple(y.shape)}, x has {tuple(x.shape)}")
    return y.numpy()


def _axes(target: Axes | Figure) -> tuple[Figure, Axes]:
    """(figure, axes) of an Axes, or of a figure's first axes."""
    if isinstance(target, Axes):
        return target.figure, target
    if isinstance(target, Figure) and target.axes:
        return target, target.axes[0]
    raise ValueError(f"target must be a matplotlib Axes or a Figure with axes, got {type(target).__name__}")


def _refresh_legend(ax: Axes, loc: str | None) -> None:
    """Redraw the legend of ``ax`` with every labelled artist, where it was (or at ``loc``)."""
    old = ax.get_legend()
    ax.legend(loc=loc or getattr(old, "_loc", "best"))


def bars(
    x: Sequence[float] | torch.Tensor,
    heights: Mapping[str, Sequence[float] | torch.Tensor] | Sequence[float] | torch.Tensor,
    *,
    xlabel: str,
    ylabel: str,
    ax: Axes | None = None,
    width: float = 0.8,
    step: Sequence[float] | torch.Tensor | None = None,
    step_label: str | None = None,
    xticks: Sequence[float] | None = None,
    ylim: tuple[float, float] | None = None,
    legend: str = "best",
) -> Figure:
    """Bars at x (n,): one series or named series side by side, a ``step`` over. Chapter: entropy-normalization."""
    xs = _vector("x", x)
    series = dict(heights) if isinstance(heights, Mapping) else {"": heights}
    if not series:
        raise ValueError("heights must be a tensor of bar heights or a non-empty mapping label -> heights")
    width = _checks.real_number("width", width, positive=True)
    fig, ax = _figure("curves") if ax is None else (ax.figure, ax)
    with matplotlib.rc_context(RC):
        each = width / len(series)  # the series of one x share the bar width
        for i, (name, h) in enumerate(series.items()):
            offset = (i - (len(series) - 1) / 2) * each
            ax.bar(xs.numpy() + offset, _same_shape(f"heights {name!r}", h, xs), width=each, label=name or None)
        if step is not None:
            ax.step(xs.numpy(), _same_shape("step", step, xs), where="mid", color=_MARK_COLOR, label=step_label)
        if xticks is not None:
            ax.set_xticks(list(xticks))
        _finish(ax, xlabel, ylabel, None, ylim)
        if (len(series) if isinstance(heights, Mapping) else 0) + (step_label is not None) > 1:
            ax.legend(loc=legend)
    return fig


def hist(
    values: Sequence[float] | torch.Tensor,
    *,
    bins: int | Sequence[float] | torch.Tensor,
    xlabel: str,
    ylabel: str = "density",
    ax: Axes | None = None,
    density: bool = True,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Histogram of ``values`` (n,) over ``bins`` (a count or the edges), as a density. Chapter: entropy-jl-lemma."""
    data = _vector("values", torch.as_tensor(values).flatten() if isinstance(values, torch.Tensor) else values)
    if not isinstance(bins, int):
        bins = _vector("bins", bins).numpy()
    elif bins < 1 or isinstance(bins, bool):
        raise ValueError(f"bins must be an int >= 1 or a sequence of edges, got {bins!r}")
    fig, ax = _figure("curves") if ax is None else (ax.figure, ax)
    with matplotlib.rc_context(RC):
        ax.hist(data.numpy(), bins=bins, density=density, color="C0")
        _finish(ax, xlabel, ylabel, xlim, ylim)
    return fig


def scatter(
    x: Sequence[float] | torch.Tensor,
    y: Sequence[float] | torch.Tensor,
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    ax: Axes | None = None,
    color: Sequence[float] | torch.Tensor | str | None = None,
    clabel: str | None = None,
    crange: tuple[float, float] | None = None,
    label: str | None = None,
    connect: bool = False,
    texts: Sequence[str] | None = None,
    size: float = 12.0,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    legend: str | None = None,
) -> Figure:
    """Points (x, y) (n,), coloured by values ``color`` (n,) with a colorbar, or one colour. Chapter: real-attention."""
    xs, ys = _vector("x", x), _vector("y", y)
    if xs.shape != ys.shape:
        raise ValueError(f"x and y must have the same length, got {len(xs)} and {len(ys)}")
    if texts is not None and len(texts) > len(xs):
        raise ValueError(f"texts must label at most the {len(xs)} points, got {len(texts)}")
    by_value = color is not None and not isinstance(color, str)
    c = _same_shape("color", color, xs) if by_value else (color or "C0")
    fixed = ax is None
    fig, ax = new_figure(6.0, 3.5, SCATTER_RECT if by_value else CURVES_RECT) if fixed else (ax.figure, ax)
    with matplotlib.rc_context(RC):
        if connect:
            ax.plot(xs.numpy(), ys.numpy(), ":", color=c if not by_value else _MARK_COLOR, lw=1)
        vmin, vmax = crange if crange is not None else (None, None)
        cmap = WEIGHTS_CMAP if by_value else None
        dots = ax.scatter(xs.numpy(), ys.numpy(), c=c, s=size, cmap=cmap, vmin=vmin, vmax=vmax, label=label, zorder=3)
        if by_value:
            cax = fig.add_axes(SCATTER_COLORBAR_RECT) if fixed else None
            fig.colorbar(dots, cax=cax, ax=None if fixed else ax, label=clabel or "")
        for i, text in enumerate(texts or []):  # label the first points, e.g. the steps of an iteration
            ax.annotate(text, (xs[i].item(), ys[i].item()), fontsize=8)
        _finish(ax, xlabel, ylabel, xlim, ylim)
        if label is not None:
            _refresh_legend(ax, legend)
    return fig


def panels(
    n: int = 2, *, layout: str = "row", width: float | None = None, height: float | None = None
) -> tuple[Figure, list[Axes]]:
    """Figure of ``n`` panels in a "row" or a "column", axes in reading order. Chapter: sparsity-measures."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if layout not in ("row", "column"):
        raise ValueError(f"layout must be 'row' or 'column', got {layout!r}")
    row = layout == "row"
    w_in = (4.0 * n if row else 6.0) if width is None else _checks.real_number("width", width, positive=True)
    h_in = (3.2 if row else 2.6 * n) if height is None else _checks.real_number("height", height, positive=True)
    if row:  # margins in inches: room for the y tick labels and label of every panel
        left, right, gap, bottom, top = 0.56 / w_in, 0.16 / w_in, 0.88 / w_in, 0.51 / h_in, 0.19 / h_in
        w = (1 - left - right - gap * (n - 1)) / n
        rects = [(left + i * (w + gap), bottom, w, 1 - bottom - top) for i in range(n)]
    else:  # room for the x tick labels and label under every panel
        left, right, gap, bottom, top = 0.66 / w_in, 0.3 / w_in, 0.62 / h_in, 0.52 / h_in, 0.12 / h_in
        h = (1 - bottom - top - gap * (n - 1)) / n
        rects = [(left, 1 - top - (i + 1) * h - i * gap, 1 - left - right, h) for i in range(n)]
    size = (w_in, h_in)
    fig, first = new_figure(*size, rects[0])
    with matplotlib.rc_context(RC):
        return fig, [first] + [fig.add_axes(r) for r in rects[1:]]


def mark(
    target: Axes | Figure,
    *,
    x: float | Sequence[float] | torch.Tensor | None = None,
    y: float | Sequence[float] | torch.Tensor | None = None,
    label: str | None = None,
    color: str | Sequence[str] = _MARK_COLOR,
    style: str = "--",
    legend: str | None = None,
) -> Figure:
    """Reference marks: lines at x (vertical) or y (horizontal), points at (x, y) if both. Chapter: entropy-jl-lemma."""
    fig, ax = _axes(target)
    if x is None and y is None:
        raise ValueError("mark needs x (vertical lines), y (horizontal lines) or both (points)")
    xs = None if x is None else _vector("x", torch.as_tensor(x, dtype=torch.float64).reshape(-1))
    ys = None if y is None else _vector("y", torch.as_tensor(y, dtype=torch.float64).reshape(-1))
    if xs is not None and ys is not None and xs.shape != ys.shape:
        raise ValueError(f"points need as many x as y, got {len(xs)} and {len(ys)}")
    count = len(xs if xs is not None else ys)
    colors = [color] * count if isinstance(color, str) else list(color)
    if len(colors) != count:
        raise ValueError(f"color must be one colour or one per mark ({count}), got {len(colors)}")
    with matplotlib.rc_context(RC):
        for i, c in enumerate(colors):
            name = label if i == 0 else None  # one legend entry for the whole set
            if xs is not None and ys is not None:
                ax.plot([xs[i].item()], [ys[i].item()], "v", color=c, ms=7, label=name, zorder=4)
            elif xs is not None:
                ax.axvline(xs[i].item(), color=c, ls=style, lw=1, label=name)
            else:
                ax.axhline(ys[i].item(), color=c, ls=style, lw=1, label=name)
        if label is not None:
            _refresh_legend(ax, legend)
    return fig


def note(target: Axes | Figure, text: str) -> Figure:
    """A short note (e.g. an explorer's settings) in the upper-left corner. Chapter: naive-bayes-attention."""
    fig, ax = _axes(target)
    with matplotlib.rc_context(RC):
        ax.text(0.02, 0.92, text, transform=ax.transAxes)
    return fig


PASS_COLOR, FAIL_COLOR = "#a8d8a8", "#f4a6a6"  # a claim that holds / fails, in check_grid


def check_grid(
    holds: torch.Tensor,
    *,
    xticks: Sequence[float | str],
    yticks: Sequence[float | str],
    xlabel: str,
    ylabel: str,
    numbers: torch.Tensor | None = None,
    fmt: str = "+.0e",
) -> Figure:
    """Grid (rows, cols) of pass (1), fail (0), undefined (nan) cells, ``numbers`` in. Chapter: sparsity-measures."""
    if not isinstance(holds, torch.Tensor) or holds.dim() != 2:
        raise ValueError(f"holds must be a 2-D tensor (rows, cols), got {type(holds).__name__}")
    grid = holds.detach().double().cpu()
    if (len(yticks), len(xticks)) != tuple(grid.shape):
        raise ValueError(f"need one ytick per row and one xtick per column of {tuple(grid.shape)}")
    if numbers is not None and (not isinstance(numbers, torch.Tensor) or numbers.shape != grid.shape):
        raise ValueError(f"numbers must be a tensor of the shape of holds, {tuple(grid.shape)}")
    fig, ax = new_figure(6.0, 3.6)
    with matplotlib.rc_context(RC):
        cmap = ListedColormap([FAIL_COLOR, PASS_COLOR])
        ax.imshow(grid.numpy(), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        if numbers is not None:
            shown = numbers.isfinite()  # (rows, cols)
            for (i, j), value in zip(shown.nonzero().tolist(), numbers[shown].tolist(), strict=True):
                ax.text(j, i, f"{value:{fmt}}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(xticks)), [_tick(v) for v in xticks])
        ax.set_yticks(range(len(yticks)), [_tick(v) for v in yticks])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(False)
    return fig


def _tick(v: float | str) -> str:
    return v if isinstance(v, str) else f"{v:g}"


def to_png(fig: Figure, dpi: float | None = None, fast: bool = False) -> bytes:
    """PNG bytes of a figure; ``fast`` trades size for speed (live explorers). Chapter: rope-rotation (via explore)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1} if fast else None)
    return buffer.getvalue()
