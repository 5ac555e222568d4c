"""Execute each chapter once per CI run: the notebook tests fill the cache the book build reads.

The test run executes every chapter through nbmake. This pytest plugin stores each successful
execution in the jupyter-cache that ``jupyter-book build`` reads (``_build/.jupyter_cache``, with
``execute_notebooks: cache`` in ``_config.yml``), so the build that follows does not execute the
chapters again.

jupyter-cache keys a notebook by its code cells alone; it cannot see that ``attnviz`` or the
pinned requirements changed. The cache therefore carries a stamp, a hash of ``attnviz``'s sources,
``requirements.txt``, ``pyproject.toml`` and ``_config.yml``, and a cache whose stamp differs is
emptied before use: by this plugin, and by ``python tests/notebook_cache.py``, which the book
build runs first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".jupyter_cache"
STAMP = CACHE / "attnviz-stamp.txt"


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


def pytest_configure(config) -> None:
    # Kernels started by nbmake inherit this: explorers draw every frame for the static book page.
    os.environ.setdefault("ATTNVIZ_EXPLORE", "static")
    if not getattr(config.option, "nbmake", False) or os.environ.get("ATTNVIZ_NOTEBOOK_CACHE") == "0":
        return  # ATTNVIZ_NOTEBOOK_CACHE=0: run chapters without recording them (e.g. several runs at once)
    from nbmake.nb_run import NotebookRun

    ensure_fresh()
    execute = NotebookRun.execute

    def execute_and_store(self):
        result = execute(self)
        if result.error is None:
            store(result.nb, Path(self.filename).resolve())
        return result

    NotebookRun.execute = execute_and_store


if __name__ == "__main__":
    print("execution cache", "kept" if ensure_fresh() else "emptied: attnviz or requirements changed")
