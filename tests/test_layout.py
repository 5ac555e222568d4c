"""The package's layout rules: one concept per module, each readable in one sitting, and no import cycle."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "attnviz"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
MAX_LINES = 450  # "about 400": a module past this becomes a subpackage


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """attnviz modules imported anywhere in ``path`` (top level or inside functions), resolved to module names."""
    here = _name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    known = {_name(p) for p in MODULES}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("attnviz")}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if not module.startswith("attnviz"):
                continue
            for alias in node.names:  # "from . import x" may name a submodule
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in known else module)
    return {m for m in found if m != here and m in known}


def test_every_module_reads_in_one_sitting():
    long = {_name(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them into a subpackage): {long}"


def test_no_import_cycle_between_attnviz_modules():
    graph = {_name(p): _imports(p) for p in MODULES}
    # a package's __init__ re-exporting its own submodules is not a cycle: drop edges parent -> child
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, module, dep]))
            if dep not in state:
                visit(dep, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_cycle_check_sees_real_edges():
    """The cycle test above could pass vacuously if _imports resolved nothing: it must see real edges."""
    graph = {_name(p): _imports(p) for p in MODULES}
    assert "attnviz.entropy" in graph["attnviz.metrics"] or "attnviz.streaming" in graph["attnviz.metrics"]
    assert "attnviz.positions" in graph["attnviz.extrapolation"]
    assert graph["attnviz._checks"] == set()
