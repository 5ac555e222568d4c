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
    passkey adds ``exact`` (all digits right). The same seed gives every method the same sequences.
    """
    _checks.choice("task", task, TASKS)
    _checks.positive_int("length", length)
    _checks.positive_int("samples", samples)
    _checks.positive_int("batch", batch)
    how = method(how) if isinstance(how, str) else how
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    text = corpus("test")
    sums = {"loss": 0.0, "hit": 0.0, "n": 0, "copy_loss": 0.0, "copy_hit": 0.0, "copy_n": 0, "exact": 0.0}
    for start in range(0, samples, batch):
        data = task_batch(task, text, min(batch, samples - start), length, gen)
        tokens = data["tokens"].to(device)  # (b, length + 1)
        logits = model(tokens[:, :-1], how).float()  # (b, n, VOCAB)
        target = tokens[:, 1:]
        loss = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (b, n)
        hit = (logits.argmax(-1) == target).float()  # (b, n)
        scored = data.get("answer", torch.ones_like(data["copyable"])).to(device)
        copy = data["copyable"].to(device) & scored
        sums["loss"] += float(loss[scored].sum())
        sums["hit"] += float(hit[scored].sum())
        sums["n"] += int(scored.sum())
        sums["copy_loss"] += float(loss[copy].sum())
        sums["copy_hit"] += float(hit[copy].sum())
        sums["copy_n"] += int(copy.sum())
        if task == "passkey":
            sums["exact"] += float((hit.masked_fill(~scored, 1.0).amin(-1)).sum())
    return _averages(sums, task, samples)


def _averages(sums: dict, task: str, samples: int) -> dict:
    """The per-character means of :func:`evaluate` from its sums."""
    out = {"loss": sums["loss"] / sums["n"], "accuracy": sums["hit"] / sums["n"]}
    fresh_n = sums["n"] - sums["copy_n"]
    if sums["copy_n"]:
        out |= {"copy_loss": sums["copy_loss"] / sums["copy_n"], "copy_accuracy": sums["copy_hit"] / sums["copy_n"]}
    if fresh_n:
        out["fresh_loss"] = (sums["loss"] - sums["copy_loss"]) / fresh_n
        out["fresh_accuracy"] = (sums["hit"] - sums["copy_hit"]) / fresh_n
    if task == "passkey":
        out["exact"] = sums["exact"] / samples
    return out
