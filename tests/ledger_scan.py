"""Read the claims ledgers out of the chapters' code without running them (for tests and the run's summary).

A chapter's ledger is the calls ``<name>.check(...)``, ``<name>.experiment(...)`` and
``<name>.not_checkable(...)`` on the ``Ledger`` it builds; their keywords are read from the syntax tree.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHECK_LINE = re.compile(r"^# check: ([a-z0-9][a-z0-9-]*)\s*$")
METHODS = ("check", "experiment", "not_checkable")


@dataclass
class Entry:
    method: str
    keywords: dict[str, ast.expr]
    line: str

    def value(self, name: str) -> object:
        node = self.keywords.get(name)
        return node.value if isinstance(node, ast.Constant) else None


@dataclass
class Scan:
    path: Path
    posts: list[str] = field(default_factory=list)  # from the notebook metadata
    ledger_posts: list[str] = field(default_factory=list)  # from Ledger(posts={...})
    entries: list[Entry] = field(default_factory=list)
    cells: dict[str, str] = field(default_factory=dict)  # check label -> cell source
    card: str = ""
    published: bool = False

    def coverage(self) -> dict[str, dict[str, int]]:
        out = {}
        for post in self.ledger_posts:
            mine = [e for e in self.entries if str(e.value("post")) == post]
            not_checkable = sum(e.method == "not_checkable" for e in mine)
            shown = sum(e.method == "check" and e.value("shown") is True for e in mine)
            asserted = len(mine) - not_checkable - shown
            out[post] = {"claims": len(mine), "checkable": len(mine) - not_checkable, "asserted": asserted}
        return out


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def scan(path: Path) -> Scan:
    nb = json.loads(path.read_text())
    out = Scan(path, posts=[str(p) for p in nb.get("metadata", {}).get("attnviz", {}).get("posts", [])])
    out.card = _source(nb["cells"][0]) if nb["cells"] else ""
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = _source(cell)
        first = CHECK_LINE.match(src.split("\n", 1)[0])
        if first:
            out.cells[first.group(1)] = src
        if re.search(r"^\s*[%!]", src, re.M):
            continue  # the setup cell's %pip line is not Python
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            posts = keywords.get("posts", node.args[1] if len(node.args) > 1 else None)
            if name == "Ledger" and isinstance(posts, ast.Dict):
                out.ledger_posts = [str(k.value) for k in posts.keys if isinstance(k, ast.Constant)]
            elif name in METHODS and isinstance(func, ast.Attribute) and "post" in keywords:
                out.entries.append(Entry(name, keywords, ast.unparse(node)[:120]))
            elif name == "publish" and isinstance(func, ast.Attribute):
                out.published = True
    return out


def can_fail(source: str) -> bool:
    """The cell holds a check that can fail: an assert, or a verify check (which asserts)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (
                isinstance(owner, ast.Name)
                and owner.id == "verify"
                and node.func.attr
                in (
                    "close",
                    "value",
                    "check_quoted",
                    "verdicts",
                )
            ):
                return True
    return False


def scans() -> list[Scan]:
    return [scan(p) for p in NOTEBOOKS]
