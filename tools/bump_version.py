"""Set attnviz's version everywhere it is written: ``python tools/bump_version.py 0.2.0``.

The version lives in ``attnviz/__init__.py`` (``__version__``); every chapter's setup cell installs the
release tagged ``v<version>`` from the repository, so Colab readers get the attnviz the chapter was
executed with. This script rewrites both; then commit, tag ``v<version>`` and push the tag (README,
*Releasing attnviz*). tests/test_notebooks.py checks that they agree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = re.compile(r'^__version__ = "([^"]+)"$', re.M)
PIN = re.compile(r"(%pip install -q attnviz@git\+\S+?)@v[\w.]+")


def current() -> str:
    """The version in attnviz/__init__.py, read without importing the package."""
    return VERSION.search((ROOT / "attnviz" / "__init__.py").read_text()).group(1)


def bump(version: str) -> list[Path]:
    """Write ``version`` into attnviz/__init__.py and every chapter's setup cell; return the files changed."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise SystemExit(f"version must look like 1.2.3, got {version!r}")
    changed = []
    init = ROOT / "attnviz" / "__init__.py"
    init.write_text(VERSION.sub(f'__version__ = "{version}"', init.read_text()))
    changed.append(init)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        setup = next(c for c in notebook["cells"] if c["cell_type"] == "code")
        source = "".join(setup["source"])
        new = PIN.sub(rf"\g<1>@v{version}", source)
        if new == source and f"@v{version}" not in source:
            raise SystemExit(f"{path.name}: no pinned '%pip install -q attnviz@git+...@v<version>' in the setup cell")
        setup["source"] = new.splitlines(keepends=True)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        changed.append(path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: python tools/bump_version.py NEW_VERSION (now {current()})")
    for path in bump(sys.argv[1]):
        print("wrote", path.relative_to(ROOT))
