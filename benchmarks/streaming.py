"""Streaming row statistics against the materialised matrix and the matrix-product floor.

Run from the repository root: ``python -m benchmarks streaming [--quick]``. Each row is measured in a fresh
Python process; the table is in the book's *Performance* appendix.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]  # the child processes import benchmarks from here

D_HEAD = 64
LONG_ROW = (256, 10**6)  # a few hundred queries against a million keys
QUICK_LONG_ROW = (64, 10**5)
NAIVE_COPIES = 3  # n_q x n_k float32 matrices the naive path holds at once (logits, weights, entr)
FLOOR_TILE = (256, 1024)  # queries x keys per tile of the floor (1 MiB; the fastest of those tried)


def _naive_entropy(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The materialised computation: softmax of the full n_q x n_k matrix, then its entropy."""
    weights = torch.softmax((q @ k.mT) / math.sqrt(q.shape[-1]), dim=-1)
    return torch.special.entr(weights).sum(-1)


def _floor(q: torch.Tensor, k: torch.Tensor) -> None:
    """The floor: the blocked matrix product and the exponential alone, into one reused buffer."""
    q = q / math.sqrt(q.shape[-1])
    tq, tk = FLOOR_TILE
    buf = torch.empty(tq * tk, dtype=q.dtype)
    for i0 in range(0, q.shape[0], tq):
        rows = q[i0 : i0 + tq]
        for j0 in range(0, k.shape[0], tk):
            keys = k[j0 : j0 + tk]
            tile = buf[: rows.shape[0] * keys.shape[0]].view(rows.shape[0], keys.shape[0])
            torch.matmul(rows, keys.T, out=tile).exp_()


def _hwm_resettable() -> bool:
    """True where Linux lets a process reset its peak-RSS mark (/proc/self/clear_refs, value 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM" in open("/proc/self/status").read()
    except OSError:
        return False


def _status_kib(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _release_free_memory() -> None:
    """Hand freed heap memory back to the OS (glibc malloc_trim), where there is glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _peak_bytes(fn, resettable: bool) -> int:
    """Extra resident memory at the peak of ``fn()`` over the memory resident just before it.

    With ``resettable``: call ``fn`` once (one-time library set-up happens there), reset the peak
    mark and hand freed memory back to the OS, then peak RSS (VmHWM) minus RSS before a second
    call. Otherwise the process must be
    fresh and the call is cold: ru_maxrss after minus before (a high-water mark: only the first
    measurement of a process counts).
    """
    if resettable:
        fn()
        _release_free_memory()  # else the second call reuses pages the first one freed, unseen
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status_kib("VmRSS")
        fn()
        return 1024 * max(0, _status_kib("VmHWM") - before)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn()
    return 1024 * max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)


def _child(spec: dict) -> dict:
    """One row of the streaming benchmark, run in a fresh process: memory first, then timings."""
    from attnviz.metrics import streaming_row_entropy, streaming_row_stats

    torch.set_num_threads(spec["threads"])
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(spec["n_q"], D_HEAD, generator=gen)
    k = torch.randn(spec["n_k"], D_HEAD, generator=gen)
    jobs = {
        "stream": lambda: streaming_row_entropy(q, k),
        "stats": lambda: streaming_row_stats(q, k),
        "floor": lambda: _floor(q, k),
        "naive": lambda: _naive_entropy(q, k),
    }
    out = {}
    for name in spec["memory"]:  # peak memory (this also warms the method up)
        out[name + "_peak"] = _peak_bytes(jobs[name], spec["resettable"])
    if spec.get("accuracy"):  # float32 entropies against the float64 streaming ones (tested to 1e-10)
        exact = streaming_row_entropy(q.double(), k.double())
        out["stream_err"] = (streaming_row_entropy(q, k).double() - exact).abs().max().item()
        out["naive_err"] = (_naive_entropy(q, k).double() - exact).abs().max().item()
    timed = [name for name in jobs if name in spec["time"]]
    for name in timed:
        if name + "_peak" not in out:
            jobs[name]()  # warm-up
    best = dict.fromkeys(timed, math.inf)
    start = time.perf_counter()
    for r in range(spec["repeats"]):  # interleaved, so that a busy moment hits every method
        for name in timed:
            t0 = time.perf_counter()
            jobs[name]()
            best[name] = min(best[name], time.perf_counter() - t0)
        if r >= 1 and time.perf_counter() - start > spec["budget_s"]:
            break
    out["runs"] = r + 1 if timed else 0
    return out | {name + "_s": value for name, value in best.items()}


def _run_child(spec: dict) -> dict:
    code = (
        "import json, sys; from benchmarks.streaming import _child; print(json.dumps(_child(json.loads(sys.argv[1]))))"
    )
    done = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed for {spec}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_streaming(
    rows: list[tuple[int, int]],
    *,
    repeats: int = 7,
    threads: int = 2,
    naive_limit_gib: float = 4.0,
    budget_s: float = 20.0,
) -> Iterator[dict]:
    """Time and peak memory of streaming_row_entropy vs the materialised path, one fresh process per row.

    Each row (n_q, n_k) runs in a new Python process: peak memory of one cold call of each method
    (streaming_row_stats, then the naive path), then best-of-``repeats`` warm timings of the
    streaming entropy, the full streaming statistics, the floor and the naive path, interleaved
    (at least 2 runs; fewer than ``repeats`` once a row has taken ``budget_s``). The naive path
    is skipped when its NAIVE_COPIES float32 matrices would exceed ``naive_limit_gib``. Yields
    one dict per row as it is measured.
    """
    resettable = _hwm_resettable()
    for n_q, n_k in rows:
        naive_bytes = NAIVE_COPIES * 4 * n_q * n_k
        run_naive = naive_bytes <= naive_limit_gib * 2**30
        methods = ["stats", "naive"] if run_naive else ["stats"]
        timed = ["stream", "stats", "floor"] + (["naive"] if run_naive else [])
        base = {"n_q": n_q, "n_k": n_k, "threads": threads, "repeats": repeats, "budget_s": budget_s}
        base["resettable"] = resettable
        if resettable:
            out = _run_child(base | {"memory": methods, "time": timed, "accuracy": run_naive})
        else:  # ru_maxrss only sees the first peak of a process: one fresh process per measurement
            out = _run_child(base | {"memory": [], "time": timed, "accuracy": run_naive})
            for name in methods:
                out |= _run_child(base | {"memory": [name], "time": []})
        row = {"n_q": n_q, "n_k": n_k, "runs": out["runs"], "naive_bytes": naive_bytes}
        row |= {"stream_s": out["stream_s"], "stats_s": out["stats_s"], "floor_s": out["floor_s"]}
        row |= {"stream_peak": out["stats_peak"], "naive_s": out.get("naive_s"), "naive_peak": out.get("naive_peak")}
        row |= {"stream_err": out.get("stream_err"), "naive_err": out.get("naive_err")}
        yield row


def _mib(n_bytes: float | None) -> str:
    return "-" if n_bytes is None else f"{n_bytes / 2**20:.1f}"


def print_table(rows, *, threads: int, limit_gib: float, quick: bool) -> list[dict]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"torch {torch.__version__}, {threads} threads, {os.cpu_count()} CPUs ({cpu})")
    print(f"load average at start {load:.2f}; d = {D_HEAD}, float32, q and k iid N(0, 1), scale 1/sqrt(d)")
    print("streaming: attnviz.metrics.streaming_row_entropy (stats: streaming_row_stats), default block")
    print(f"floor: blocked q k^T into one reused {FLOOR_TILE[0]} x {FLOOR_TILE[1]} buffer, then exp_ in place")
    print("naive: softmax of the full n_q x n_k matrix, then entropy (torch.special.entr(p).sum(-1))")
    print("time: best of interleaved warm runs in one fresh process per row, so ratios share a moment")
    print("peak: extra resident memory of a warm call of streaming_row_stats (resp. naive) over the")
    print("      memory before it (inputs excluded): Linux VmHWM reset through /proc/self/clear_refs;")
    print("      where that is unavailable, ru_maxrss of a cold call in a fresh process")
    print("H err: max |entropy - float64 entropy| over the rows (float64 by streaming; where naive runs)")
    head = f"{'n_q':>7} {'n_k':>8} {'stream s':>9} {'stats s':>8} {'floor s':>8} {'str/floor':>9} "
    head += (
        f"{'naive s':>8} {'naive/str':>9} {'peak MiB':>9} {'naive MiB':>10} {'runs':>4} {'H err str':>9} {'naive':>8}"
    )
    print(head)
    out = []
    for row in rows:
        line = f"{row['n_q']:>7} {row['n_k']:>8} {row['stream_s']:>9.4f} {row['stats_s']:>8.4f} {row['floor_s']:>8.4f} "
        line += f"{row['stream_s'] / row['floor_s']:>9.2f} "
        if row["naive_s"] is None:
            line += f"{'skipped':>8} {'-':>9} {_mib(row['stream_peak']):>9} {'-':>10}"
        else:
            line += f"{row['naive_s']:>8.4f} {row['naive_s'] / row['stream_s']:>9.2f} {_mib(row['stream_peak']):>9} "
            line += f"{_mib(row['naive_peak']):>10}"
        line += f" {row['runs']:>4}"
        if row["stream_err"] is not None:
            line += f" {row['stream_err']:>9.1e} {row['naive_err']:>8.1e}"
        print(line, flush=True)
        out.append(row)
    for row in out:
        if row["naive_s"] is None:
            gib = row["naive_bytes"] / 2**30
            print(
                f"skipped naive at {row['n_q']} x {row['n_k']}: one float32 n_q x n_k matrix is"
                f" {gib / NAIVE_COPIES:.2f} GiB; reckoning {NAIVE_COPIES} alive at once ({gib:.1f} GiB; the peaks"
                f" above show 2 to 4) exceeds the {limit_gib:g} GiB limit (--naive-limit-gib)"
            )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"load average at end {load:.2f}" + ("  (quick run: small sizes)" if quick else ""))
    return out
