"""How fast a live explorer redraws after a slider change, against matplotlib's default path.

Run from the repository root: ``python -m benchmarks explore``. The book's *How to run* page shows the figures.
"""

from __future__ import annotations

import itertools
import statistics
import time

import torch
from matplotlib.figure import Figure

from attnviz import plots
from attnviz.attention import attention_weights
from attnviz.explore import explore


def _median_ms(fn, repeats: int) -> float:
    for _ in range(3):  # warm up: first draws fill font and colormap caches
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _baseline_png(weights: torch.Tensor) -> bytes:
    """matplotlib's default path, as ``ipywidgets.interact`` with the inline backend takes it:
    a constrained-layout figure with the map and a colorbar, saved as a PNG at 100 dpi."""
    fig = Figure(figsize=(4.8, 4.0), layout="constrained")
    ax = fig.add_subplot()
    fig.colorbar(ax.imshow(weights.numpy(), cmap=plots.WEIGHTS_CMAP, aspect="auto"), ax=ax, label="weight")
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    return plots.to_png(fig, dpi=100)


def _bench_one(n: int, d: int, repeats: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(n, d, generator=gen), torch.randn(n, d, generator=gen)
    scales = [0.05 * 2**i for i in range(6)]

    def draw(scale: float):
        return plots.attention_map(attention_weights(q, k, scale=scale, causal=True))

    box = explore(draw, mode="live", scale=scales)
    slider, image = box.children[0], box.children[-1]
    positions = itertools.cycle(range(len(scales)))
    next(positions)  # the slider starts at 0: every move below changes it

    def move():
        before = image.value
        slider.value = next(positions)  # the observer redraws synchronously
        assert image.value is not before

    def baseline():
        _baseline_png(attention_weights(q, k, scale=scales[1], causal=True))

    live, base = _median_ms(move, repeats), _median_ms(baseline, repeats)
    return {"n": n, "live_ms": live, "baseline_ms": base, "ratio": live / base}


def bench_explore(sizes=(64, 256, 512), repeats: int = 15, d: int = 64) -> list[dict]:
    """Median time from a slider change to the new picture in a live attention-map explorer."""
    return [_bench_one(n, d, repeats) for n in sizes]


def report(repeats: int = 15, sizes=(64, 256, 512)) -> list[dict]:
    """Print the explorer table (median of ``repeats`` runs per size) and return its rows."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("live explorer: slider change -> new attention-map picture (median of", repeats, "runs)")
    print(f"{'n':>6} {'live (ms)':>10} {'baseline (ms)':>14} {'live / baseline':>16}")
    rows = bench_explore(sizes=sizes, repeats=repeats)
    for row in rows:
        print(f"{row['n']:>6} {row['live_ms']:>10.1f} {row['baseline_ms']:>14.1f} {row['ratio']:>16.2f}")
    print("live: attention weights, the book's attention_map figure, a fast PNG at 96 dpi (kernel side;")
    print("      the browser then receives one image message).")
    print("baseline: the same map drawn the default matplotlib way (constrained layout, PNG at 100 dpi).")
    return rows
