"""Scoring a trained lab model at any length, split between copyable and fresh characters."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _checks
from ..extrapolation import Method, method
from .data import TASKS, corpus, task_batch
from .model import TinyLM


@torch.no_grad()
def evaluate(
    model: TinyLM,
    how: Method | str,
    length: int,
    task: str,
    *,
    samples: int = 16,
    batch: int = 8,
    seed: int = 1234,
) -> dict:
    """Loss and accuracy of ``model`` on ``samples`` held-out sequences of ``length``. Chapter: train-short-test-long.

    ``task`` "text" (nothing to copy), "repeat" (a text of length/2 twice: the second half is copyable)
    or "passkey" (scored on the digits only). Returns mean ``loss`` (nats), greedy ``accuracy`` over
    the scored characters, and the same split into ``copy_*`` and ``fresh_*`` (copyable or not);
    passkey adds ``exact`` (all digits right). ``per_sample`` holds the same scores per sequence
    ({score: [one value per sequence]}), so two methods can be compared sequence by sequence: the same
    seed gives every method the same sequences.
    """
    _checks.choice("task", task, TASKS)
    _checks.positive_int("length", length)
    _checks.positive_int("samples", samples)
    _checks.positive_int("batch", batch)
    how = method(how) if isinstance(how, str) else how
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    text = corpus("test")
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, samples, batch):
        data = task_batch(task, text, min(batch, samples - start), length, gen)
        tokens = data["tokens"].to(device)  # (b, length + 1)
        logits = model(tokens[:, :-1], how).float()  # (b, n, VOCAB)
        target = tokens[:, 1:]
        loss = F.cross_entropy(logits.transpose(1, 2), target, reduction="none").double()  # (b, n)
        hit = (logits.argmax(-1) == target).double()  # (b, n)
        scored = data.get("answer", torch.ones_like(data["copyable"])).to(device)  # (b, n)
        copy = data["copyable"].to(device) & scored
        groups = {"": scored, "copy_": copy, "fresh_": scored & ~copy}
        for prefix, where in groups.items():
            for name, value in (("loss", loss), ("hit", hit)):
                parts.setdefault(prefix + name, []).append((value * where).sum(-1).cpu())  # (b,)
            parts.setdefault(prefix + "n", []).append(where.sum(-1).double().cpu())  # (b,)
        parts.setdefault("exact", []).append(hit.masked_fill(~scored, 1.0).amin(-1).cpu())  # (b,)
    return _scores({k: torch.cat(v) for k, v in parts.items()}, task)


def _scores(sums: dict[str, torch.Tensor], task: str) -> dict:
    """Per-character means over all sequences, and per-sequence scores, from per-sequence sums (samples,)."""
    out: dict = {}
    per_sample: dict[str, list[float]] = {}
    for prefix in ("", "copy_", "fresh_"):
        n = sums[prefix + "n"]  # (samples,)
        if not bool((n > 0).any()):
            continue
        if not bool((n > 0).all()):  # a score per sequence needs every sequence to have such characters
            raise RuntimeError(f"some sequences have no {prefix or 'scored '}characters")
        total = float(n.sum())
        out[prefix + "loss"] = float(sums[prefix + "loss"].sum()) / total
        out[prefix + "accuracy"] = float(sums[prefix + "hit"].sum()) / total
        per_sample[prefix + "loss"] = _rounded(sums[prefix + "loss"] / n)
        per_sample[prefix + "accuracy"] = _rounded(sums[prefix + "hit"] / n)
    if task == "passkey":
        out["exact"] = float(sums["exact"].mean())
        per_sample["exact"] = _rounded(sums["exact"])
    out["per_sample"] = per_sample
    return out


def _rounded(values: torch.Tensor) -> list[float]:
    """Per-sequence scores as a list, to 6 decimals (a millionth of a nat or of an accuracy)."""
    return [round(float(v), 6) for v in values]


@torch.no_grad()
def fixed_segment(
    model: TinyLM,
    how: Method | str,
    contexts: tuple[int, ...] | list[int],
    *,
    segment: int = 64,
    samples: int = 16,
    batch: int = 8,
    seed: int = 1234,
) -> dict[int, dict]:
    """Scores of the same last ``segment`` characters read with growing ``contexts``.

    Post 9948's test of long-range dependency: each held-out text of max(contexts) + 1 characters is cut
    to its last c + 1 for every context c, and only the final ``segment`` predictions are scored, so
    every context length scores the same characters. Returns {c: {"loss", "accuracy", "per_sample"}}.
    Chapter: train-short-test-long (via lab.probes).
    """
    how = method(how) if isinstance(how, str) else how
    _checks.positive_int("segment", segment)
    _checks.positive_int("samples", samples)
    _checks.positive_int("batch", batch)
    contexts = [_checks.positive_int("contexts", c) for c in contexts]
    if not contexts or min(contexts) < segment:
        raise ValueError(f"contexts must be non-empty and each >= segment = {segment}, got {contexts}")
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    text = corpus("test")
    sums: dict[int, dict[str, list[torch.Tensor]]] = {c: {"loss": [], "hit": []} for c in contexts}
    for start in range(0, samples, batch):
        tokens = task_batch("text", text, min(batch, samples - start), max(contexts), gen)["tokens"].to(device)
        for c in contexts:
            part = tokens[:, -(c + 1) :]  # (b, c + 1): the last c + 1 characters
            logits = model(part[:, :-1], how)[:, -segment:].float()  # (b, segment, VOCAB)
            target = part[:, -segment:]  # (b, segment)
            loss = F.cross_entropy(logits.transpose(1, 2), target, reduction="none").double()  # (b, segment)
            sums[c]["loss"].append(loss.mean(-1).cpu())  # (b,)
            sums[c]["hit"].append((logits.argmax(-1) == target).double().mean(-1).cpu())  # (b,)
    out = {}
    for c, parts in sums.items():
        loss, hit = torch.cat(parts["loss"]), torch.cat(parts["hit"])  # (samples,)
        per = {"loss": _rounded(loss), "accuracy": _rounded(hit)}
        out[c] = {"loss": float(loss.mean()), "accuracy": float(hit.mean()), "per_sample": per}
    return out
