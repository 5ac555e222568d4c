"""Benchmarks (scripts, not timed tests): ``python -m benchmarks explore`` and ``python -m benchmarks streaming``.

Timings on a shared machine are noisy, so every figure is printed beside a baseline measured in
the same run, and compared by ratio. Run from the repository root.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks import explore, streaming


def main(argv: list[str] | None = None) -> list[dict] | None:
    """Command line: ``python -m benchmarks explore|streaming [options]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("what", choices=["explore", "streaming"], help="which benchmark to run")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (explore: 15, streaming: 7)")
    parser.add_argument("--quick", action="store_true", help="streaming: n = 2^10..2^12 and 64 x 10^5 only")
    parser.add_argument("--threads", type=int, default=None, help="streaming: torch threads (default: torch's)")
    parser.add_argument("--naive-limit-gib", type=float, default=4.0, help="streaming: skip naive above this")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.what == "streaming":
        threads = args.threads or torch.get_num_threads()
        sizes = range(10, 13) if args.quick else range(10, 17)
        rows = [(2**e, 2**e) for e in sizes] + [streaming.QUICK_LONG_ROW if args.quick else streaming.LONG_ROW]
        results = streaming.bench_streaming(
            rows, repeats=args.repeats or 7, threads=threads, naive_limit_gib=args.naive_limit_gib
        )
        return streaming.print_table(results, threads=threads, limit_gib=args.naive_limit_gib, quick=args.quick)
    return explore.report(repeats=args.repeats or 15)


if __name__ == "__main__":
    main()
