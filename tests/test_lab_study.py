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
    per_model = {name: len(names) * len(study.seeds_of(name)) for name, (_, names) in study.models.items()}
    expected_rows = sum(per_model.values()) * len(study.lengths) * len(lab.TASKS)
    assert study.seeds_of("rope") == (0, 1) and study.seeds_of("nope") == (0,)
    assert len(result["rows"]) == expected_rows
    loaded = lab.load_results(tmp_path / "results.json")
    assert loaded["rows"] == json.loads(json.dumps(result["rows"]))
    assert (tmp_path / "results.csv").read_text().count("\n") == expected_rows + 1
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["versions"]["torch"] == torch.__version__ and meta["command"].startswith("python -m attnviz.lab")
    assert (tmp_path / "ckpt" / "rope.pt").is_file() and (tmp_path / "ckpt" / "rope-seed1.pt").is_file()
    assert meta["seeds"] == {"rope": [0, 1], "nope": [0]} and not meta["models"]["rope-seed1"]["reused_checkpoint"]
    assert meta["models"]["rope-seed1"]["config"]["seed"] == 1
    grid = lab.table(loaded, "rope", 64)
    assert set(grid) == set(study.models["rope"][1]) and set(grid["rope"]) == set(lab.TASKS)
    assert all(0.0 <= v <= 1.0 for row in grid.values() for v in row.values())
    assert lab.table(loaded, "rope", 64, seed=1) != grid  # another seed, another model
    # per-sequence scores: two seeds, paired across methods on the same sequences
    per = lab.scores(loaded, "rope", "pi", 128, "repeat", "copy_accuracy")
    base = lab.scores(loaded, "rope", "rope", 128, "repeat", "copy_accuracy")
    assert per.shape == base.shape == (2, study.samples["repeat"])
    mean, se, seeds = lab.difference(loaded, "pi", "rope", 128, "repeat", "copy_accuracy")
    assert seeds == 2 and se >= 0 and mean == pytest.approx(float((per - base).mean()), abs=1e-12)
    # run again on the same checkpoints: nothing retrains, the scores are the same
    again = lab.run("reduced", None, checkpoints=tmp_path / "ckpt", device="cpu", progress=False)
    assert all(info["reused_checkpoint"] for info in again["meta"]["models"].values())
    assert [r["accuracy"] for r in again["rows"]] == pytest.approx([r["accuracy"] for r in result["rows"]], abs=1e-12)


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


def test_committed_seeds_are_the_seeds_study():
    seeds, study = lab.load_results(lab.DATA_DIR / "seeds" / "results.json"), lab.studies()["seeds"]
    meta = seeds["meta"]
    assert meta["study"] == "seeds" and meta["seeds"] == {"rope": [0, 1, 2]} and meta["seconds"] < 30 * 60
    assert meta["lengths"] == list(study.lengths) == [64, 512]
    assert len(seeds["rows"]) == 3 * len(lab.SEED_METHODS) * 2 * len(lab.TASKS)
    assert {r["method"] for r in seeds["rows"]} == set(lab.SEED_METHODS) <= set(lab.METHODS)
    assert meta["models"]["rope"]["reused_checkpoint"]  # seed 0 is the shipped model, evaluated again
    per = lab.scores(seeds, "rope", "rerope-w32", 512, "passkey")
    assert per.shape == (3, meta["samples"]["passkey"])
    # seed 0 reproduces the full table's means: same weights, same sequences (one near-tied argmax of
    # 16384 characters flipped between the runs: ntk-fixed, repeat, 512)
    full = lab.load_results()
    for task in lab.TASKS:
        again, before = (lab.table(r, "rope", 512, task=task) for r in (seeds, full))
        assert all(again[m] == pytest.approx(before[m], abs=1.5 / 16384) for m in before if m in again)


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


def test_committed_logn_seeds_are_the_seeds_logn_study():
    runs, study = lab.load_results(lab.DATA_DIR / "seeds-logn" / "results.json"), lab.studies()["seeds-logn"]
    meta = runs["meta"]
    assert meta["study"] == "seeds-logn" and meta["seeds"] == {"rope-logn": [0, 1, 2]} and meta["seconds"] < 30 * 60
    methods = study.models["rope-logn"][1]
    assert meta["lengths"] == list(study.lengths) and len(runs["rows"]) == 3 * len(methods) * 2 * len(lab.TASKS)
    assert lab.scores(runs, "rope-logn", "rope", 512, "passkey").shape == (3, meta["samples"]["passkey"])
    # seed 0, trained again, reproduces the full study's log-n model to float noise in training: at most a
    # few of 16384 characters, and 2 of 320 passkey digits
    full = lab.load_results()
    for task, tol in (("text", 2e-3), ("repeat", 2e-3), ("passkey", 2 / 320)):
        again, before = (lab.table(r, "rope-logn", 512, task=task, **kw) for r, kw in ((runs, {"seed": 0}), (full, {})))
        assert all(again[m] == pytest.approx(before[m], abs=tol) for m in before)
