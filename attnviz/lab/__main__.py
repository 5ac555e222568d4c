"""Command line of the lab: ``python -m attnviz.lab [--study full|small|reduced] [--out DIR] ...``."""

from __future__ import annotations

import argparse

import torch

from .study import DATA_DIR, run, studies


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m attnviz.lab [--study full|reduced] [--out DIR] [--checkpoints DIR]``."""
    from . import __doc__ as lab_doc

    parser = argparse.ArgumentParser(prog="python -m attnviz.lab", description=lab_doc.splitlines()[0])
    parser.add_argument("--study", default="full", choices=tuple(studies()))
    parser.add_argument("--out", default=str(DATA_DIR), help="where results.json/csv and meta.json go")
    parser.add_argument("--checkpoints", default=None, help="directory for the trained weights (.pt)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run(args.study, args.out, checkpoints=args.checkpoints, device=args.device, progress=not args.no_progress)
    print(f"{len(result['rows'])} rows in {result['meta']['seconds']} s -> {args.out}")


if __name__ == "__main__":
    main()
