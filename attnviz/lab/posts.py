"""The numbers the posts report for Su's GAU benchmark, from one file. Chapter: train-short-test-long.

Posts 9675, 9706 and 9708 each print a table of the same in-house benchmark (a GAU language model of about
100M parameters trained at length 512, per-token accuracy at 512 and at 4096 on repeated and non-repeated
texts), and 9708's tables reprint the earlier rows. ``attnviz/data/posts/gau-benchmark.json`` holds them
once, transcribed from 9708; every chapter that quotes them reads them here, so no number is typed twice.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

GAU_FILE = Path(__file__).resolve().parents[1] / "data" / "posts" / "gau-benchmark.json"


@functools.cache
def _data() -> dict:
    return json.loads(GAU_FILE.read_text())


def gau_benchmark() -> dict[str, tuple[float, float, float]]:
    """Every row the posts print: name -> (512, 4096 repeated, 4096 non-repeated) accuracy in %.

    Chapter: rope-beta-base (via gau_row).
    """
    return {row["name"]: tuple(row["values"]) for row in _data()["rows"]}


def gau_row(name: str) -> tuple[float, float, float]:
    """One row by the name a post prints (9675's names included, e.g. "NTK-RoPE"). Chapter: rope-beta-base."""
    rows = gau_benchmark()
    name = _data()["aliases"].get(name, name)
    if name not in rows:
        raise ValueError(f"name must be a row of the GAU benchmark, one of {sorted(rows)}; got {name!r}")
    return rows[name]
