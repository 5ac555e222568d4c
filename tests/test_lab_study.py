"""attnviz.lab.study: the comparison's studies, result files and lookups, the committed results, the CLI."""

import dataclasses
import json

import pytest
import torch

from attnviz import lab


@pytest.fixture(scope="module")
def committed():
    return lab.load_results()


@pytest.mark.slow
def test_reduced_study_end_to_end(tmp_path):
    result = lab.run("reduced", tmp_path, checkpoints=tmp_path / "ckpt", device="cpu", progress=False)
    study = lab.studies()["reduced"]
    expected_rows = sum(len(names) for _, names in study.models.values()) * len(study.lengths) * len(lab.TASKS)
    assert len(result["rows"]) == expected_rows
    loaded = lab.load_results(tmp_path / "results.json")
    assert loaded["rows"] == json.loads(json.dumps(result["rows"]))
    assert (tmp_path / "results.csv").read_text().count("\n") == expected_rows + 1
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["versions"]["torch"] == torch.__version__ and meta["command"].startswith("python -m attnviz.lab")
    assert (tmp_path / "ckpt" / "rope.pt").is_file()
    grid = lab.table(loaded, "rope", 64)
    assert set(grid) == set(study.models["rope"][1]) and set(grid["rope"]) == set(lab.TASKS)
    assert all(0.0 <= v <= 1.0 for row in grid.values() for v in row.values())


def test_committed_results_are_the_full_study(committed):
    meta, study = committed["meta"], lab.studies()["full"]
    assert meta["study"] == "full" and meta["lengths"] == list(study.lengths)
    expected_rows = sum(len(names) for _, names in study.models.values()) * len(study.lengths) * len(lab.TASKS)
    assert len(committed["rows"]) == expected_rows
    for name, (cfg, methods) in study.models.items():
        assert meta["models"][name]["config"] == dataclasses.asdict(cfg)
        assert {r["method"] for r in committed["rows"] if r["model"] == name} == set(methods)
    assert set(study.models["rope"][1]) == set(lab.LAB_METHODS) <= set(lab.METHODS)
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["loss"] > 0 for r in committed["rows"])


def test_committed_comparison_ran_within_the_budget(committed):
    assert committed["meta"]["seconds"] < 30 * 60  # the budget for the whole comparison on the 2-core machine


def test_table_reads_one_length_across_methods(committed):
    grid = lab.table(committed, "rope", 512)
    assert set(grid) == set(lab.LAB_METHODS) and set(grid["pi"]) == set(lab.TASKS)
    assert grid["pi"]["text"] == pytest.approx(0.353, abs=5e-4)  # quoted in the chapter
    text = lab.table(committed, "rope", 512, task="text")
    assert text == {method: tasks["text"] for method, tasks in grid.items()}
    copy = lab.table(committed, "rope", 512, "copy_accuracy", task="repeat")
    assert copy["rerope-w32"] == pytest.approx(0.718, abs=5e-4) and set(copy) == set(lab.LAB_METHODS)
    assert "text" not in lab.table(committed, "rope", 512, "copy_accuracy")["rope"]  # text has nothing to copy


def test_curve_reads_one_method_across_lengths(committed):
    points = lab.curve(committed, "rope", "rope", "text")
    assert [n for n, _ in points] == [64, 128, 256, 512, 1024]
    quoted = {64: 0.595, 128: 0.483, 512: 0.378, 1024: 0.343}  # the chapter's numbers
    assert all(dict(points)[n] == pytest.approx(v, abs=5e-4) for n, v in quoted.items())
    loss = dict(lab.curve(committed, "rope", "window", "text", "loss"))
    assert loss[64] == pytest.approx(1.506, abs=5e-4) and loss[1024] == pytest.approx(1.325, abs=5e-4)
    assert lab.curve(committed, "nope", "rope", "text")[-1][1] == pytest.approx(0.380, abs=5e-4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda r: lab.table(r, "rope", 300), "length=300"),
        (lambda r: lab.table(r, "alibi", 64), "model='alibi'"),
        (lambda r: lab.table(r, "rope", 64, task="summaries"), "task"),
        (lambda r: lab.table(r, "rope", 64, "copy_accuracy", task="text"), "metric 'copy_accuracy'"),
        (lambda r: lab.curve(r, "rope", "alibi", "text"), "method='alibi'"),
        (lambda r: lab.curve(r, "rope", "rope", "summaries"), "task"),
        (lambda r: lab.curve(r, "rope", "rope", "text", "copy_accuracy"), "metric 'copy_accuracy'"),
        (lambda r: lab.load_results("/nonexistent/results.json"), "path"),
        (lambda r: lab.run("huge"), "study"),
    ],
)
def test_bad_input_names_the_argument(committed, call, match):
    with pytest.raises(ValueError, match=match):
        call(committed)


def test_command_line_keeps_its_flags(capsys):
    with pytest.raises(SystemExit) as info:
        lab.main(["--help"])
    assert info.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: python -m attnviz.lab")
    for flag in ("--study", "--out", "--checkpoints", "--device", "--threads", "--no-progress"):
        assert flag in usage
