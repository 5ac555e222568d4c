"""Per-model probes beyond the comparison table, and their three-seed file. Chapter: train-short-test-long.

:func:`probes` measures, on one trained model, the per-sequence numbers of the chapter's verdicts that
the table of :func:`~attnviz.lab.run` does not hold: post 9948's fixed-segment test, the attention
the first tokens draw, NTK-RoPE with its factor fixed for 8L, and YaRN with lambda_n. :func:`run_probes`
runs it for the three RoPE checkpoints and writes ``seeds/extra.json``
(``python -m attnviz.lab --probes --checkpoints DIR --threads 1``).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch

from ..extrapolation import Method
from .data import corpus, text_batch
from .evaluate import _rounded, evaluate, fixed_segment
from .model import TinyLM
from .study import DATA_DIR
from .train import load

CONTEXTS = (64, 256, 512)
SEGMENT_METHODS = ("rerope-w32", "leaky-rerope-w32", "window")
PROBE_SEEDS = (0, 1, 2)


def first_token_excess(model: TinyLM, samples: int = 32, length: int = 64, seed: int = 1) -> list[float]:
    """Per text: weight on keys 0-3 minus a uniform share 4/(i+1), rows 16.., layers and heads averaged.

    Chapter: train-short-test-long (via lab.probes).
    """
    if length <= 16:
        raise ValueError(f"length must be > 16, got {length}")
    gen = torch.Generator().manual_seed(seed)
    texts = text_batch(corpus("test"), samples, length, gen)["tokens"][:, :-1]  # (samples, length)
    maps = model.attention_maps(texts, "rope").double()  # (layers, samples, heads, length, length)
    rows = torch.arange(16, length)
    on_first = maps[..., rows, :4].sum(-1)  # (layers, samples, heads, rows): weight on keys 0-3
    return _rounded((on_first - 4 / (rows + 1)).mean(dim=(0, 2, 3)))  # (samples,)


def at_factor(model: TinyLM, n: int, factor: int = 8) -> TinyLM:
    """A copy of ``model`` whose nominal L is n // factor, so max(1, n/L) = factor at length n.

    Chapter: train-short-test-long (via lab.probes).
    """
    if n % factor:
        raise ValueError(f"n must be a multiple of factor = {factor}, got {n}")
    twin = TinyLM(dataclasses.replace(model.cfg, train_len=n // factor))
    twin.load_state_dict(model.state_dict())
    return twin.eval()


def probes(model: TinyLM, samples: int = 32, batch: int = 16) -> dict:
    """Per-sequence numbers of the chapter's probes on one model. Chapter: train-short-test-long.

    ``segment`` {method: {context: loss per text}} (the last 64 characters, :func:`fixed_segment`);
    ``sinks`` the excess weight on keys 0-3 per text (:func:`first_token_excess`); ``ntk8`` {length:
    text loss per text}, NTK with its factor fixed at 8 at 256 and 512, plain RoPE at 64; ``yarn``
    {"const", "logn"}: text accuracy per text at 512 with YaRN's constant scale and with lambda_n.
    """
    out: dict = {"segment": {}}
    for how in SEGMENT_METHODS:
        by_c = fixed_segment(model, how, CONTEXTS, samples=samples, batch=batch)
        out["segment"][how] = {str(c): by_c[c]["per_sample"]["loss"] for c in CONTEXTS}
    out["sinks"] = first_token_excess(model, samples)
    ntk = {n: evaluate(at_factor(model, n), "ntk", n, "text", samples=samples, batch=batch) for n in (256, 512)}
    ntk[64] = evaluate(model, "rope", 64, "text", samples=samples, batch=batch)
    out["ntk8"] = {str(n): ntk[n]["per_sample"]["loss"] for n in (64, 256, 512)}
    logn = Method(scaling="yarn", logn=True)
    for key, how in (("const", "yarn"), ("logn", logn)):
        res = evaluate(model, how, 512, "text", samples=samples, batch=batch)
        out.setdefault("yarn", {})[key] = res["per_sample"]["accuracy"]
    return out


def run_probes(
    checkpoints: str | Path, out: str | Path | None = None, *, seeds: tuple = PROBE_SEEDS, samples: int = 32
) -> dict:
    """:func:`probes` on the RoPE checkpoints ``rope.pt``, ``rope-seed1.pt``, ... in ``checkpoints``.

    Returns ``{"meta": ..., "seeds": {seed: probes}}``; with ``out``, writes it there as JSON.
    Chapter: train-short-test-long (via lab.probes).
    """
    start, per_seed, seconds = time.perf_counter(), {}, {}
    for seed in seeds:
        path = Path(checkpoints) / ("rope.pt" if seed == 0 else f"rope-seed{seed}.pt")
        if not path.is_file():
            raise ValueError(f"checkpoints must hold {path.name}, not found in {str(checkpoints)!r}")
        model, _ = load(path, "cpu")
        if model.cfg.seed != seed:
            raise ValueError(f"checkpoints: {path.name} holds seed {model.cfg.seed}, not {seed}")
        t0 = time.perf_counter()
        per_seed[str(seed)] = probes(model, samples)
        seconds[str(seed)] = round(time.perf_counter() - t0, 1)
    meta = {
        "command": " ".join(["python -m attnviz.lab", *sys.argv[1:]]) if out is not None else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - start, 1),
        "seconds_per_seed": seconds,
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "corpus_characters": {"test": corpus("test").numel()},
        "samples": samples,
        "contexts": list(CONTEXTS),
        "segment_methods": list(SEGMENT_METHODS),
    }
    result = {"meta": meta, "seeds": per_seed}
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=1) + "\n")
    return result


def load_probes(path: str | Path | None = None) -> dict:
    """The committed ``seeds/extra.json`` of :func:`run_probes`, or one at ``path``. Chapter: train-short-test-long."""
    path = DATA_DIR / "seeds" / "extra.json" if path is None else Path(path)
    if not path.is_file():
        raise ValueError(f"path must be a JSON file written by attnviz.lab.run_probes, got {str(path)!r}")
    return json.loads(path.read_text())
