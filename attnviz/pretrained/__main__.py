"""Command line: ``python -m attnviz.pretrained extrapolation [--lengths ...] [--methods ...] [--out FILE]``."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from .extrapolation import METHODS, SUPPORTED, extrapolation
from .models import MODELS


def main(argv: list[str] | None = None) -> dict:
    """Command line: ``python -m attnviz.pretrained extrapolation [--lengths ...] [--out FILE]``."""
    from . import __doc__ as pretrained_doc

    parser = argparse.ArgumentParser(prog="python -m attnviz.pretrained", description=pretrained_doc.split("\n")[0])
    parser.add_argument("experiment", choices=["extrapolation"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[2048, 4096, 8192, 12288, 16384])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=SUPPORTED)
    parser.add_argument("--target", type=int, default=512)
    parser.add_argument("--train-len", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = extrapolation(tuple(args.lengths), tuple(args.methods), train_len=args.train_len, target=args.target)
    import transformers

    result = {
        "command": "python -m attnviz.pretrained " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": "smollm2",
        "package": f"{MODELS['smollm2']['package']}=={MODELS['smollm2']['version']}",
        "text": "pydoc_data.topics of the running Python, topics sorted by name, joined by blank lines",
        "train_len": args.train_len,
        "target": args.target,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "device": f"CPU ({platform.processor() or platform.machine()}), {args.threads} torch threads",
        "total_seconds": time.perf_counter() - start,
        "rows": rows,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
