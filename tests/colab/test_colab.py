"""The Colab path, simulated: chapters run top to bottom in a fresh Python 3.12 environment holding what Colab
preinstalls (colab-packages.txt), with attnviz installed by the chapters' own setup cell.

Nothing of this project is in the environment beforehand. The setup cell's real ``%pip install`` line runs,
pointed at a git repository made from this working tree and tagged ``v<version>`` like a release (the address
becomes ``git+file://localhost/...``: pip reads ``git+file:///...`` as a local path). The chapter runs in a
kernel of that environment, from an empty folder (Colab's /content), with live explorers. Then no package that
Colab preinstalls may have changed version: a changed one would need a restart of the Colab runtime, which a
reader running the chapter top to bottom does not do. Each chapter starts from the bare environment.

Chapters: ``ATTNVIZ_COLAB_CHAPTERS`` (names separated by spaces, or ``all``); by default the real-attention
chapter (which installs the models and gguf in its own install cell and loads them with Colab's transformers)
and rope-rotation (sympy and live explorers on Colab's ipywidgets 7.7.1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-colab"
PACKAGES = Path(__file__).with_name("colab-packages.txt")
PYTHON = "3.12"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
VERSION = re.search(r'^__version__ = "([^"]+)"$', (ROOT / "attnviz" / "__init__.py").read_text(), re.M).group(1)
DEFAULT_CHAPTERS = ["real-attention", "rope-rotation"]
ALL = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
_chosen = os.environ.get("ATTNVIZ_COLAB_CHAPTERS", "").split()
CHAPTERS = ALL if _chosen == ["all"] else (_chosen or DEFAULT_CHAPTERS)


def run(*args: str | Path, **kw) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if done.returncode:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def python312() -> str:
    """A Python 3.12 interpreter: ATTNVIZ_COLAB_PYTHON, python3.12 on PATH, or pyenv's."""
    candidates = [os.environ.get("ATTNVIZ_COLAB_PYTHON"), shutil.which(f"python{PYTHON}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(p) for p in pyenv.glob(f"{PYTHON}.*/bin/python{PYTHON}"))
    for found in filter(None, candidates):
        probe = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(tuple(map(int, PYTHON.split(".")))):
            return found  # (a pyenv shim on PATH exists but may refuse to run)
    pytest.fail(f"no Python {PYTHON} found: install it or set ATTNVIZ_COLAB_PYTHON", pytrace=False)


def freeze(python: Path) -> dict[str, str]:
    out = run(python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check")
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


@pytest.fixture(scope="session")
def colab() -> dict[str, str]:
    """The bare Colab-like environment (built once, then reused): its packages and their versions."""
    python = VENV / "bin" / "python"
    if not python.exists():
        run(python312(), "-m", "venv", VENV)
    run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", PACKAGES)
    base = VENV / "colab-base.json"
    if not base.exists():
        base.write_text(json.dumps(freeze(python), indent=1))
    return json.loads(base.read_text())


def reset(colab: dict[str, str]) -> None:
    """Back to the bare environment: remove what a previous chapter installed, restore changed versions."""
    python = VENV / "bin" / "python"
    now = freeze(python)
    extra = sorted(set(now) - set(colab))
    if extra:
        run(python, "-m", "pip", "uninstall", "-q", "-y", *extra)
    changed = [f"{n}=={v}" for n, v in colab.items() if now.get(n) != v]
    if changed:
        run(python, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", *changed)


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> Path:
    """A git repository of this working tree (tracked and new files, not ignored ones), tagged v<version>."""
    repo = tmp_path_factory.mktemp("release") / "attention-book"
    files = run("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT).split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git = ["git", "-C", repo, "-c", "user.name=ci", "-c", "user.email=ci@localhost"]
    run(*git, "init", "-q")
    run(*git, "add", "-A")
    run(*git, "commit", "-q", "-m", "release")
    run(*git, "tag", f"v{VERSION}")
    return repo


def kernel_manager(kernels: Path):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = kernels / "colab"
    spec.mkdir(parents=True)
    argv = [str(VENV / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab", "language": "python"}))
    return KernelManager(kernel_name="colab", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))


REPORT = """import attnviz, ipywidgets
print("ATTNVIZ", attnviz.__version__, attnviz.__file__, "IPYWIDGETS", ipywidgets.__version__)"""


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_to_the_end_on_colabs_packages(chapter, colab, release, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    reset(colab)
    assert "attnviz" not in freeze(VENV / "bin" / "python")
    nb = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    published = f"attnviz@git+{CONFIG['repository']['url']}@v{VERSION}"
    assert published in setup.source, f"{chapter}: the setup cell does not install {published}"
    setup.source = setup.source.replace(published, f"attnviz@git+file://localhost{release}@v{VERSION}")
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    content = tmp_path / "content"  # the kernel's working folder: no attnviz/ to import by accident
    content.mkdir()
    monkeypatch.delenv("ATTNVIZ_EXPLORE", raising=False)  # Colab has live explorers
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    client = NotebookClient(
        nb, km=kernel_manager(tmp_path / "kernels"), timeout=600, resources={"metadata": {"path": str(content)}}
    )
    client.execute()  # raises CellExecutionError, with the traceback, at the first failing cell
    report = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    words = report.split()
    assert words[:2] == ["ATTNVIZ", VERSION], report
    assert str(VENV) in words[2], f"the kernel imported attnviz from {words[2]}, not the installed release"
    after = freeze(VENV / "bin" / "python")
    changed = {n: (v, after.get(n)) for n, v in colab.items() if after.get(n) != v}
    assert not changed, f"the install changed Colab's own packages (a runtime restart would be due): {changed}"
    print(f"{chapter}: ran on Colab's packages; installed {sorted(set(after) - set(colab))}", file=sys.stderr)
