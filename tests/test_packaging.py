"""attnviz's declared requirements: the lower bounds that `make lowest` installs exactly are pyproject.toml's,
every one of them; the pinned book environment lies inside them; the pretrained extra is what attnviz asks for."""

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = (ROOT / "pyproject.toml").read_text()


def _array(key: str) -> list[Requirement]:
    """The requirements in ``key = [...]`` of pyproject.toml (read without tomllib, which Python 3.10 lacks)."""
    body = re.search(rf"^{key} = \[(.*?)\][ \t]*(?:#.*)?$", PYPROJECT, re.M | re.S).group(1)
    return [Requirement(r) for r in re.findall(r'"([^"]+)"', re.sub(r"#.*", "", body))]


def _pins(path: Path) -> dict[str, str]:
    lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    return {_name(n): v for n, v in (ln.split("==") for ln in lines if "==" in ln)}


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _minimum(req: Requirement) -> str:
    (spec,) = [s for s in req.specifier if s.operator == ">="]
    return spec.version


def test_every_lower_bound_is_installed_exactly_by_make_lowest():
    declared = {_name(r.name): Version(_minimum(r)) for r in _array("dependencies") + _array("test")}
    installed = {n: Version(v) for n, v in _pins(ROOT / "tests" / "lowest" / "constraints.txt").items()}
    assert installed == declared


def test_the_pinned_book_environment_satisfies_the_bounds():
    pins = _pins(ROOT / "requirements.txt")
    for req in _array("dependencies") + _array("test") + _array("pretrained"):
        assert Version(pins[_name(req.name)]) in req.specifier, (req, pins[_name(req.name)])


def test_colabs_packages_satisfy_the_bounds_so_installing_attnviz_there_changes_none():
    colab = _pins(ROOT / "tests" / "colab" / "colab-packages.txt")
    for req in _array("dependencies"):
        assert Version(colab[_name(req.name)]) in req.specifier, (req, colab[_name(req.name)])
