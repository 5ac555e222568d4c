"""The API reference appendix, generated from attnviz's docstrings at build time (Sphinx autodoc).

When Sphinx reads ``book/api.md``, the line ``<!-- api: reference -->`` becomes one section per attnviz module
with an ``autofunction``/``autoclass`` entry for each public function and class defined there
(tests/test_docstrings.py walks the same modules and definitions, less records and exceptions): signature,
docstring (shapes included) and the chapter that introduces it. Each docstring's tag ``Chapter: slug``
becomes a link to that chapter. Nothing is listed by hand, so a new function appears in the appendix the
moment it is written.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "<!-- api: reference -->"
TAG = re.compile(r"Chapter: (none yet|[\w-]+)")


def modules() -> list[str]:
    """attnviz's public modules, in file order: packages before their submodules, no private or __main__."""
    names = []
    for path in sorted((ROOT / "attnviz").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "__pycache__" in parts or parts[-1] == "__main__" or any(p.startswith("_") for p in parts[1:-1]):
            continue
        if parts[-1].startswith("_") and parts[-1] != "__init__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def public(module: str) -> list[tuple[str, str]]:
    """(name, "function" or "class") of the public functions and classes ``module`` defines itself."""
    mod = importlib.import_module(module)
    found = []
    for name, obj in vars(mod).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module:
            continue
        if inspect.isfunction(obj):
            found.append((name, "function"))
        elif inspect.isclass(obj):
            found.append((name, "class"))
    return found


def summary(module: str) -> str:
    """The first sentence of the module's docstring, roles stripped to their text."""
    doc = inspect.getdoc(importlib.import_module(module)) or ""
    first = doc.split("\n\n")[0].replace("\n", " ")
    return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", first).replace("``", "`")


def page() -> str:
    out = []
    for module in modules():
        items = public(module)
        if not items:
            continue
        out += [f"## `{module}`", "", summary(module), "", "```{eval-rst}", f".. py:module:: {module}", ""]
        for name, kind in items:
            out.append(f".. auto{kind}:: {module}.{name}")
            if kind == "class":
                out.append("   :members:")
            out.append("")
        out += ["```", ""]
    return "\n".join(out)


LITERAL = re.compile(r"(``.+?``|:\w+:`[^`]+`)")


def _plain(line: str) -> str:
    """attnviz's docstrings are text with ``literals`` and roles: keep those, and make | and * mean themselves."""
    parts = LITERAL.split(line)
    for i in range(0, len(parts), 2):  # the text between literals and roles
        parts[i] = re.sub(r"(?<!\\)([|*])", r"\\\1", parts[i])
    return "".join(parts)


def _chapter_links(app, what, name, obj, options, lines) -> None:
    """Plain text made safe for reStructuredText; ``Chapter: slug`` -> a link to the chapter (or book page)."""
    lines[:] = [_plain(line) for line in lines]
    for i, line in enumerate(lines):
        match = TAG.search(line)
        if not match or match.group(1) == "none yet":
            continue
        slug = match.group(1)
        doc = f"/notebooks/{slug}" if (ROOT / "notebooks" / f"{slug}.ipynb").exists() else f"/book/{slug}"
        lines[i] = line[: match.start()] + f"Chapter: :doc:`{doc}`" + line[match.end() :]


def _resolve(target: str, module: str | None):
    """The attnviz object ``target`` names (absolute, or relative to ``module`` and its parents), or None."""
    bases = [""]
    if module:
        parts = module.split(".")
        bases = [".".join(parts[:k]) + "." for k in range(len(parts), 0, -1)] + [""]
    for base in bases:
        path = (base + target.lstrip("~.")).split(".")
        for cut in range(len(path), 0, -1):
            try:
                obj = importlib.import_module(".".join(path[:cut]))
            except ImportError:
                continue
            try:
                for attr in path[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                break
            return obj if path[0] == "attnviz" else None
    return None


def _missing_reference(app, env, node, contnode):
    """Links to attnviz names through their re-exports go to the documented definition; undocumented attnviz
    names (constants, records) are shown as code without a link. Anything else stays a missing reference."""
    if node.get("refdomain") != "py":
        return None
    obj = _resolve(node["reftarget"], node.get("py:module"))
    if obj is None:
        return None
    if inspect.ismodule(obj):
        canonical = obj.__name__
    else:
        canonical = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
    py = env.get_domain("py")
    found = py.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode)
    return found or contnode


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Members a class inherits or gets from matplotlib (Figure.set) are not attnviz's to document."""
    module = getattr(obj, "__module__", "") or ""
    return True if what == "class" and not module.startswith("attnviz") else None


def _source_read(app, docname, source) -> None:
    if docname == "book/api" and PLACEHOLDER in source[0]:
        source[0] = source[0].replace(PLACEHOLDER, page())


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("source-read", _source_read)
    app.connect("autodoc-process-docstring", _chapter_links)
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("missing-reference", _missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
