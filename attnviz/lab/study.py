"""The whole comparison: which models and methods the lab runs, its result files, and lookups into them.

A result is ``{"meta": {...}, "rows": [...]}`` with one row per (model, training seed, method, length,
task) holding the scores of :func:`~attnviz.lab.evaluate` (their ``per_sample`` lists included). A
study trains each model once per seed of :attr:`Study.seeds`. :func:`table` reads one length across
methods, :func:`curve` one method across lengths, both for one seed. Chapter: train-short-test-long.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import _checks
from ..extrapolation import METHODS
from .data import TASKS, corpus
from .evaluate import evaluate
from .model import LabConfig
from .train import default_device, load, progress_bar, train

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "lab"
ROW_KEYS = ("model", "seed", "method", "length", "task")
# the registry methods the committed comparison runs on the RoPE model (the registry has grown since)
LAB_METHODS = (
    "rope",
    "pi",
    "ntk",
    "ntk-fixed",
    "ntk-mixed",
    "yarn",
    "rerope-w16",
    "rerope-w32",
    "rerope-w48",
    "rerope-w64",
    "leaky-rerope-w32",
    "window",
    "window+sinks",
    "rope+logn",
    "pi+logn",
    "ntk+logn",
    "ntk-mixed+logn",
    "rerope-w32+logn",
)
# the methods run on the model trained with the log n scale (in ``full`` and, for three seeds, ``seeds-logn``)
LOGN_METHODS = ("rope", "pi", "ntk", "ntk-mixed", "rerope-w32", "window")
# the comparisons the chapter's verdicts rest on, run on three training seeds at 8L (and at L)
SEED_METHODS = (
    "rope",
    "pi",
    "ntk",
    "base-k",
    "ntk-fixed",
    "ntk-mixed",
    "yarn",
    "rerope-w16",
    "rerope-w32",
    "rerope-w48",
    "rerope-w64",
    "leaky-rerope-w32",
    "window",
    "window+sinks",
    "rope+logn",
    "ntk+logn",
    "ntk-mixed+logn",
    "rerope-w32+logn",
)


@dataclass(frozen=True)
class Study:
    """What :func:`run` trains and measures: models (name -> config and methods), lengths, sample counts.

    ``seeds`` maps a model name to the training seeds it is trained with (default: its config's seed).
    Chapter: train-short-test-long (via lab.run).
    """

    models: dict = field(default_factory=dict)
    lengths: tuple = (64, 128, 256, 512, 1024)
    samples: dict = field(default_factory=lambda: {"text": 32, "repeat": 32, "passkey": 64})
    batch: int = 16
    seeds: dict = field(default_factory=dict)

    def seeds_of(self, model: str) -> tuple[int, ...]:
        """The training seeds of ``model``: ``seeds`` or its config's one seed."""
        return tuple(self.seeds.get(model, (self.models[model][0].seed,)))


def studies() -> dict[str, Study]:
    """Studies: ``full`` and ``seeds`` (chapter), ``small`` (re-run in it), ``reduced`` (tests).

    ``seeds`` repeats the comparisons the verdicts rest on at 8L (and at L) with training seeds 0, 1, 2
    of the RoPE model (seed 0 is the ``full`` study's model; its checkpoint is reused when given);
    ``seeds-logn`` does the same for the model trained with the log n scale, ``seeds-alibi`` for a model with
    ALiBi biases instead of RoPE (its methods: plain, a window, the log n scale at inference).

    Chapter: train-short-test-long (via lab.run).
    """
    window_only = ("rope", "window", "window+sinks")
    full = Study(
        models={
            "rope": (LabConfig(), LAB_METHODS),
            "rope-logn": (LabConfig(logn_train=True), LOGN_METHODS),
            "nope": (LabConfig(position="none"), window_only),
        }
    )
    seeds = Study(models={"rope": (LabConfig(), SEED_METHODS)}, lengths=(64, 512), seeds={"rope": (0, 1, 2)})
    logn = (LabConfig(logn_train=True), LOGN_METHODS)
    seeds_logn = Study(models={"rope-logn": logn}, lengths=(64, 512), seeds={"rope-logn": (0, 1, 2)})
    # post 9431: ALiBi trained at L, against the RoPE seeds (full attention, and the window at inference)
    alibi = (LabConfig(position="alibi"), ("rope", "window", "rope+logn"))
    seeds_alibi = Study(models={"alibi": alibi}, lengths=(64, 512), seeds={"alibi": (0, 1, 2)})
    small = LabConfig(d_model=32, n_layers=1, n_heads=2, train_len=32, steps=30, batch=8)
    reduced = Study(
        models={
            "rope": (small, ("rope", "pi", "ntk-mixed", "rerope-w16", "leaky-rerope-w32", "window+sinks", "rope+logn")),
            "nope": (dataclasses.replace(small, position="none"), ("rope", "window")),
        },
        lengths=(32, 64, 128),
        samples={"text": 2, "repeat": 2, "passkey": 4},
        batch=2,
        seeds={"rope": (0, 1)},
    )
    tiny = LabConfig(d_model=64, n_layers=2, n_heads=2, steps=300, batch=16)
    small = Study(
        models={"rope": (tiny, ("rope", "pi", "ntk", "rerope-w16", "window"))},
        lengths=(64, 256),
        samples={"text": 8, "repeat": 8, "passkey": 16},
    )
    return {
        "full": full,
        "seeds": seeds,
        "seeds-logn": seeds_logn,
        "seeds-alibi": seeds_alibi,
        "small": small,
        "reduced": reduced,
    }


def run(
    study: str | Study = "full",
    out: str | Path | None = None,
    *,
    checkpoints: str | Path | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict:
    """Train every model of ``study``, evaluate every method at every length and task. Chapter: train-short-test-long.

    Returns ``{"meta": ..., "rows": [...]}``, one row per (model, method, length, task). With ``out``,
    writes ``results.json``, ``results.csv`` and ``meta.json`` (command, versions, device, times) there.
    """
    name = study if isinstance(study, str) else "custom"
    if isinstance(study, str):
        _checks.choice("study", study, tuple(studies()))
        study = studies()[study]
    device = torch.device(device) if device is not None else default_device()
    start, rows, trained = time.perf_counter(), [], {}
    for model_name, (base_cfg, names) in study.models.items():
        for seed in study.seeds_of(model_name):
            cfg = dataclasses.replace(base_cfg, seed=seed)
            key = model_name if seed == 0 else f"{model_name}-seed{seed}"
            ckpt = None if checkpoints is None else Path(checkpoints) / f"{key}.pt"
            model, history, reused = _trained(cfg, ckpt, device, progress)
            trained[key] = {
                "config": dataclasses.asdict(cfg),
                "parameters": sum(p.numel() for p in model.parameters()),
                "train_seconds": round(history["seconds"], 1),
                "reused_checkpoint": reused,
                "final_loss": sum(history["loss"][-50:]) / len(history["loss"][-50:]),
            }
            eval_start = time.perf_counter()
            grid = [(m, n, t) for m in names for n in study.lengths for t in TASKS]
            for how, length, task in progress_bar(grid, progress, f"eval {key}"):
                res = evaluate(model, how, length, task, samples=study.samples[task], batch=study.batch)
                rows.append({"model": model_name, "seed": seed, "method": how, "length": length, "task": task, **res})
            trained[key]["eval_seconds"] = round(time.perf_counter() - eval_start, 1)
    meta = _meta(name, study, trained, device, time.perf_counter() - start, out is not None)
    result = {"meta": meta, "rows": rows}
    if out is not None:
        write(result, out)
    return result


def _trained(cfg: LabConfig, ckpt: Path | None, device: torch.device, progress: bool) -> tuple:
    """(model, history, reused): the checkpoint at ``ckpt`` if it holds ``cfg``, else a fresh training run."""
    if ckpt is not None and ckpt.is_file():
        model, history = load(ckpt, device)
        if model.cfg == cfg:
            return model, history, True
    model, history = train(cfg, checkpoint=ckpt, device=device, progress=progress)
    return model, history, False


def _meta(name: str, study: Study, trained: dict, device: torch.device, seconds: float, command: bool) -> dict:
    """What :func:`run` records beside its rows: command, time, machine, versions, corpus, models, methods."""
    return {
        "study": name,
        "command": " ".join(["python -m attnviz.lab", *sys.argv[1:]]) if command else None,
        "seconds": round(seconds, 1),
        "device": str(device),
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "corpus_characters": {"train": corpus("train").numel(), "test": corpus("test").numel()},
        "lengths": list(study.lengths),
        "seeds": {name: list(study.seeds_of(name)) for name in study.models},
        "samples": study.samples,
        "models": trained,
        "methods": {m: dataclasses.asdict(METHODS[m]) for _, names in study.models.values() for m in names},
    }


def write(result: dict, out: str | Path) -> Path:
    """Write a :func:`run` as ``results.json``, ``results.csv`` and ``meta.json``.

    Chapter: train-short-test-long (via lab.run).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = ",\n".join(json.dumps(row) for row in result["rows"])  # a row per line
    meta = json.dumps(result["meta"], indent=1)
    (out / "results.json").write_text(f'{{"meta": {meta},\n"rows": [\n{rows}\n]}}\n')
    (out / "meta.json").write_text(json.dumps(result["meta"], indent=1) + "\n")
    means = [{k: v for k, v in row.items() if k != "per_sample"} for row in result["rows"]]
    keys = sorted({k for row in means for k in row}, key=lambda k: (k not in ROW_KEYS, k))
    with open(out / "results.csv", "w", newline="") as f:  # the means; per-sequence scores only in the JSON
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(means)
    return out


def load_results(path: str | Path | None = None) -> dict:
    """The committed comparison (``attnviz/data/lab``) or one at ``path``. Chapter: train-short-test-long."""
    path = DATA_DIR / "results.json" if path is None else Path(path)
    if not path.is_file():
        raise ValueError(f"path must be a results.json written by attnviz.lab.run, got {str(path)!r}")
    return json.loads(path.read_text())


def table(
    result: dict, model: str, length: int, metric: str = "accuracy", *, task: str | None = None, seed: int = 0
) -> dict:
    """{method: {task: value}} of ``metric`` for one model, seed and length; {method: value} for one ``task``.

    Methods or tasks whose rows lack ``metric`` (``copy_accuracy`` of "text", say) are left out. Rows
    without a seed (older results) are seed 0. Chapter: train-short-test-long.
    """
    rows = [r for r in result["rows"] if (r["model"], r["length"], r.get("seed", 0)) == (model, length, seed)]
    if not rows:
        raise ValueError(f"no rows for model={model!r}, seed={seed} at length={length} in this result")
    if task is not None:
        _checks.choice("task", task, TASKS)
        out = {r["method"]: r[metric] for r in rows if r["task"] == task and metric in r}
        if not out:
            raise ValueError(f"metric {metric!r} was not measured for task={task!r} (model={model!r}, length={length})")
        return out
    grid: dict[str, dict[str, float]] = {}
    for r in rows:
        if metric in r:
            grid.setdefault(r["method"], {})[r["task"]] = r[metric]
    return grid


def curve(
    result: dict, model: str, method: str, task: str, metric: str = "accuracy", *, seed: int = 0
) -> list[tuple[int, float]]:
    """[(length, value)] of ``metric`` for one model, seed, method and task, by length. Chapter: train-short-test-long.

    ``dict(curve(...))`` looks a length up; ``[v for _, v in curve(...)]`` are the values to plot.
    """
    _checks.choice("task", task, TASKS)
    wanted = (model, method, task, seed)
    rows = [r for r in result["rows"] if (r["model"], r["method"], r["task"], r.get("seed", 0)) == wanted]
    if not rows:
        raise ValueError(f"no rows for model={model!r}, method={method!r}, task={task!r} in this result")
    if any(metric not in r for r in rows):
        raise ValueError(f"metric {metric!r} was not measured for task={task!r} (model={model!r}, method={method!r})")
    return sorted((r["length"], r[metric]) for r in rows)
