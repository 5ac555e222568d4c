"""Command line of the lab: ``python -m attnviz.lab [--study full|small|reduced] [--out DIR] ...``.

``--probes`` runs :func:`~attnviz.lab.run_probes` instead, on the RoPE checkpoints of ``--checkpoints``.
"""

from __future__ import annotations

import argparse

import torch

from .probes import run_probes
from .study import DATA_DIR, run, studies


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m attnviz.lab [--study full|reduced] [--out DIR] [--checkpoints DIR] [--probes]``."""
    from . import __doc__ as lab_doc

    parser = argparse.ArgumentParser(prog="python -m attnviz.lab", description=lab_doc.splitlines()[0])
    parser.add_argument("--study", default="full", choices=tuple(studies()))
    parser.add_argument("--out", default=str(DATA_DIR), help="where results.json/csv and meta.json go")
    parser.add_argument("--checkpoints", default=None, help="directory for the trained weights (.pt)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--probes", action="store_true", help="lab.run_probes to OUT/extra.json (data/lab/seeds)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.probes:
        if args.checkpoints is None:
            parser.error("--probes needs --checkpoints DIR (rope.pt, rope-seed1.pt, rope-seed2.pt)")
        out = DATA_DIR / "seeds" if args.out == str(DATA_DIR) else args.out
        probed = run_probes(args.checkpoints, f"{out}/extra.json")
        print(f"{len(probed['seeds'])} seeds in {probed['meta']['seconds']} s -> {out}/extra.json")
        return
    result = run(args.study, args.out, checkpoints=args.checkpoints, device=args.device, progress=not args.no_progress)
    print(f"{len(result['rows'])} rows in {result['meta']['seconds']} s -> {args.out}")


if __name__ == "__main__":
    main()
