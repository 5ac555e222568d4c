"""Every public function and class of attnviz says, in its docstring, which chapter introduces it, and that
chapter really uses it: ``Chapter: slug`` where the chapter's code names it, or ``Chapter: slug (via a, b)``
where the chapter's code names a or b, which use it inside attnviz. A book page (``performance``) may stand for
a chapter, and ``Chapter: none yet`` marks code written ahead of the chapter that will use it."""

import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import apiref  # noqa: E402 (the API appendix's walk of attnviz's public modules and definitions)

CHAPTERS = {
    p.stem: "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code")
    for p in (ROOT / "notebooks").glob("*.ipynb")
}
PAGES = {p.stem: p.read_text() for p in (ROOT / "book").glob("*.md")}
TAG = re.compile(r"Chapter: (none yet|[\w-]+)(?: \(via ([^)]*)\))?")


def _public(module: str) -> list[tuple[str, object]]:
    mod = importlib.import_module(module)
    found = [(name, getattr(mod, name)) for name, _ in apiref.public(module)]
    # records (NamedTuples) and exceptions describe what a function returns
    return [(n, obj) for n, obj in found if not (inspect.isclass(obj) and issubclass(obj, (tuple, BaseException)))]


ITEMS = [(f"{m}.{n}", obj) for m in apiref.modules() for n, obj in _public(m)]


SOURCE = {p: p.read_text() for p in (ROOT / "attnviz").rglob("*.py") if p.name != "__init__.py"}


def _called_inside_attnviz(name: str) -> bool:
    """``name`` appears in attnviz's code other than where it is defined (and other than re-exports)."""
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    definition = re.compile(rf"^\s*(def|class) {re.escape(name)}\b")
    return any(pattern.search(ln) and not definition.match(ln) for src in SOURCE.values() for ln in src.splitlines())


def _uses(text: str, name: str) -> bool:
    return re.search(rf"\b{re.escape(name.split('.')[-1])}\b", text) is not None


@pytest.mark.parametrize(("qualname", "obj"), ITEMS, ids=[q for q, _ in ITEMS])
def test_chapter_tag_names_a_chapter_that_uses_it(qualname, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{qualname} has no docstring"
    tag = TAG.search(doc)
    assert tag, f"{qualname}: the docstring must name its chapter ('Chapter: slug')"
    slug, via = tag.group(1), tag.group(2)
    if slug == "none yet":
        return
    text = CHAPTERS.get(slug, PAGES.get(slug))
    assert text is not None, f"{qualname}: 'Chapter: {slug}' is neither a chapter in notebooks/ nor a page in book/"
    names = [v.strip() for v in via.split(",")] if via else [qualname.split(".")[-1]]
    assert any(_uses(text, n) for n in names), f"{qualname}: {slug} does not use {' or '.join(names)}"
    if via:  # used indirectly: then something in attnviz must use it
        assert _called_inside_attnviz(qualname.split(".")[-1]), f"{qualname}: tagged 'via' but attnviz never uses it"


def test_the_tag_check_sees_real_uses():
    assert len(ITEMS) > 100
    assert _uses(CHAPTERS["rope-rotation"], "apply_rope") and not _uses(CHAPTERS["rope-rotation"], "nbce_log_probs")
