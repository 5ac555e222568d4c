"""The browser suite needs a built book and Chromium: it runs only through `make browser` (ATTNVIZ_BROWSER=1);
the Colab simulation builds a 7 GB environment: only through `make colab` (ATTNVIZ_COLAB=1)."""

import os

import pytest

collect_ignore = [] if os.environ.get("ATTNVIZ_BROWSER") == "1" else ["browser"]
if os.environ.get("ATTNVIZ_COLAB") != "1":
    collect_ignore.append("colab")


@pytest.fixture(scope="module")
def shipped():
    """The lab's committed RoPE model (seed 0), loaded once per test module."""
    from attnviz import lab

    model, _ = lab.load(lab.DATA_DIR / "rope.pt")
    return model


def pytest_terminal_summary(terminalreporter) -> None:
    """Print each chapter's ledger coverage: asserted / checkable claims per home post."""
    from tests.ledger_scan import scans

    rows = [(s.path.stem, post, c) for s in scans() for post, c in s.coverage().items()]
    if not rows:
        return
    terminalreporter.section("claims ledgers: asserted / checkable claims per home post")
    for chapter, post, c in rows:
        share = c["asserted"] / c["checkable"] if c["checkable"] else 0.0
        terminalreporter.write_line(f"{chapter:28s} {post:>6s}  {c['asserted']:3d} / {c['checkable']:3d}  {share:5.0%}")
