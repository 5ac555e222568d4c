"""The benchmark scripts in benchmarks/ run end to end (smoke tests: timings are printed, never asserted)."""

import subprocess
import sys

import pytest

from benchmarks import __main__ as cli
from tests.notebook_cache import ROOT

pytestmark = pytest.mark.slow


def test_streaming_quick_runs_end_to_end_and_measures_accuracy(capsys):
    rows = cli.main(["streaming", "--quick", "--repeats", "1", "--naive-limit-gib", "0.05"])
    out = capsys.readouterr().out
    assert "peak: extra resident memory" in out and "skipped naive at 64 x 100000" in out and "floor" in out
    assert [(r["n_q"], r["n_k"]) for r in rows] == [(1024, 1024), (2048, 2048), (4096, 4096), (64, 100000)]
    assert rows[0]["naive_s"] > 0 and rows[0]["naive_peak"] > 0  # 2^10: three 4 MiB matrices fit
    # float32 entropies against float64: the streaming sums stay within 1e-5 nats, the naive path within 1e-4
    assert 0 <= rows[0]["stream_err"] < 1e-5 and 0 <= rows[0]["naive_err"] < 1e-4
    assert rows[-1]["naive_s"] is None  # 64 x 10^5: 77 MB, over the 0.05 GiB limit


def test_explore_benchmark_redraws_on_every_slider_move(capsys):
    """bench_explore asserts inside each timed move that the slider produced a new picture."""
    (row,) = cli.explore.bench_explore(sizes=(16,), repeats=1)
    assert row["n"] == 16 and row["live_ms"] > 0 and row["baseline_ms"] > 0


def test_command_line_lists_both_benchmarks_and_is_not_installed_with_attnviz():
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert "explore" in out and "streaming" in out
    assert not (ROOT / "attnviz" / "bench.py").exists()
