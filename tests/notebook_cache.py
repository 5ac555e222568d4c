"""Execute each chapter once per CI run: the notebook tests fill the cache the book build reads.

The test run executes every chapter through nbmake. This pytest plugin stores each successful
execution in the jupyter-cache that ``jupyter-book build`` reads (``_build/.jupyter_cache``, with
``execute_notebooks: cache`` in ``_config.yml``), so the build that follows does not execute the
chapters again.

jupyter-cache keys a notebook by its code cells alone; it cannot see that ``attnviz`` or the
pinned requirements changed. The cache therefore carries a stamp, a hash of ``attnviz``'s sources,
``requirements.txt``, ``pyproject.toml`` and ``_config.yml``, and a cache whose stamp differs is
emptied before use: by this plugin, just before it stores the first executed chapter of a run (never
while tests are only collected), and by ``python tests/notebook_cache.py``, which the book build runs
first. Chapters may execute in parallel (pytest-xdist): a file lock makes the check-and-store of one
chapter atomic across workers.

The plugin also enforces the book's time budget: a chapter whose execution takes longer than
``CHAPTER_LIMIT_S`` seconds (60; ``ATTNVIZ_CHAPTER_LIMIT_S`` overrides it) fails its test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    import fcntl
except ImportError:  # not on Windows: no lock, so run chapters one at a time there
    fcntl = None

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
STAMP = CACHE / "attnviz-stamp.txt"
LOCK = ROOT / "_build" / ".jupyter_cache.lock"
CHAPTER_LIMIT_S = float(os.environ.get("ATTNVIZ_CHAPTER_LIMIT_S", "60"))


def stamp() -> str:
    """Hash of everything that changes a chapter's outputs besides the notebook's own code."""
    digest = hashlib.sha256()
    settings = [
        ROOT / name for name in ("requirements.txt", "requirements-models.txt", "pyproject.toml", "_config.yml")
    ]
    package = [p for p in (ROOT / "attnviz").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    files = sorted(package) + settings  # sources and the committed data the chapters load
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_fresh() -> bool:
    """Empty the cache if it was made with other code or requirements; return whether it was kept."""
    current = stamp()
    kept = CACHE.exists() and STAMP.exists() and STAMP.read_text().strip() == current
    if CACHE.exists() and not kept:
        shutil.rmtree(CACHE)
    CACHE.mkdir(parents=True, exist_ok=True)
    STAMP.write_text(current + "\n")
    return kept


def store(nb, path: Path, cache: Path = CACHE) -> None:
    """Record one executed notebook in the book's execution cache, keyed as the book build will look it up.

    jupyter-cache hashes the code cells' sources *and their metadata*; executing adds timing metadata
    to every cell, so the executed cells get back the metadata of the notebook on disk.
    """
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    original = nbformat.read(str(path), as_version=4)
    executed_cells = [c for c in nb.cells if c.cell_type == "code"]
    original_cells = [c for c in original.cells if c.cell_type == "code"]
    for executed, source in zip(executed_cells, original_cells, strict=True):
        executed.metadata = source.metadata
    get_cache(cache).cache_notebook_bundle(CacheBundleIn(nb, uri=str(path)), check_validity=False, overwrite=True)


@contextmanager
def locked(lock: Path | None = None):
    """Hold an exclusive lock on ``lock`` (a file) so that one process at a time touches the cache."""
    lock = LOCK if lock is None else lock
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def record(nb, path: Path) -> None:
    """Store one executed chapter, emptying a stale cache first; safe with several workers at once."""
    with locked():
        ensure_fresh()
        store(nb, path, cache=CACHE)


def _is_chapter(item) -> bool:
    return item.path.suffix == ".ipynb"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Fail a chapter that executes for longer than CHAPTER_LIMIT_S (nbmake's timeout is per cell)."""
    report = yield
    if call.when == "call" and _is_chapter(item) and report.passed and call.duration > CHAPTER_LIMIT_S:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.path.name} ran for {call.duration:.0f} s, over the {CHAPTER_LIMIT_S:.0f} s a chapter may take "
            "(move heavy work into an attnviz script whose committed results the chapter loads)"
        )
    return report


def pytest_configure(config) -> None:
    # Kernels started by nbmake inherit this: explorers draw every frame for the static book page.
    os.environ.setdefault("ATTNVIZ_EXPLORE", "static")
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        # One process per core already: a kernel (or test) that also spreads torch over every core makes the
        # OpenMP threads of the workers wait on each other, several times slower than one thread each.
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")
    if not getattr(config.option, "nbmake", False) or os.environ.get("ATTNVIZ_NOTEBOOK_CACHE") == "0":
        return  # ATTNVIZ_NOTEBOOK_CACHE=0: run chapters without recording them
    from nbmake.nb_run import NotebookRun

    execute = NotebookRun.execute

    def execute_and_record(self):
        result = execute(self)
        if result.error is None:
            record(result.nb, Path(self.filename).resolve())
        return result

    NotebookRun.execute = execute_and_record


def uncached(paths: list[Path]) -> list[Path]:
    """The chapters among ``paths`` whose current code has no execution in the cache."""
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(CACHE)
    missing = []
    for path in paths:
        try:
            cache.match_cache_notebook(nbformat.read(str(path), as_version=4))
        except KeyError:
            missing.append(path)
    return missing


def main(argv: list[str]) -> int:
    """``python tests/notebook_cache.py [--execute [-n JOBS]]``: refresh the cache; run the chapters it lacks."""
    import subprocess
    import sys

    print("execution cache", "kept" if ensure_fresh() else "emptied: attnviz or requirements changed")
    if "--execute" not in argv:
        return 0
    missing = uncached(sorted((ROOT / "notebooks").glob("*.ipynb")))
    print(f"{len(missing)} chapter(s) to execute" + "".join(f"\n  {p.name}" for p in missing))
    if not missing:
        return 0
    jobs = argv[argv.index("-n") + 1] if "-n" in argv else "1"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", jobs, "-o", "addopts="]
    command += ["--nbmake", "--nbmake-timeout=120", *map(str, missing)]
    return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
