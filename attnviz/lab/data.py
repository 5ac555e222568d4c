"""The lab's offline data: characters, the standard-library corpus, and the batches of its three tasks.

Every batch is a dict with ``tokens`` (batch, length + 1), whose targets are ``tokens[:, 1:]``, and
``copyable`` (batch, length), the targets that already occurred earlier in the row. Chapter:
train-short-test-long.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import torch

from .. import _checks

ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))  # newline + printable ASCII
UNKNOWN, KEY, END = 0, len(ALPHABET) + 1, len(ALPHABET) + 2  # ids; characters are 1 .. len(ALPHABET)
VOCAB = len(ALPHABET) + 3
TASKS = ("text", "repeat", "passkey")
_CHAR_ID = {c: i + 1 for i, c in enumerate(ALPHABET)}


def encode(text: str) -> torch.Tensor:
    """Character ids (n,) int64: newline, printable ASCII, tabs as 4 spaces, else 0.

    Chapter: train-short-test-long (via lab.corpus).
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    text = text.replace("\t", "    ")
    return torch.tensor([_CHAR_ID.get(c, UNKNOWN) for c in text], dtype=torch.int64)


def decode(ids: Iterable[int]) -> str:
    """Text of character ids; passkey markers print as « and », unknown ids as ?.

    Chapter: none yet (a reader's view of lab data; the chapter prints none).
    """
    marks = {UNKNOWN: "?", KEY: "«", END: "»"}
    return "".join(marks.get(int(i), ALPHABET[int(i) - 1] if 1 <= int(i) <= len(ALPHABET) else "?") for i in ids)


def corpus_files() -> list[Path]:
    """The standard library's top-level ``*.py`` files, sorted by name.

    Chapter: train-short-test-long (via lab.corpus).
    """
    import sysconfig

    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    if len(files) < 16:
        raise RuntimeError(f"expected the Python standard library's sources in {sysconfig.get_paths()['stdlib']}")
    return files


@functools.lru_cache(maxsize=2)
def corpus(split: str = "train") -> torch.Tensor:
    """Character ids (N,) of the train or test files (every 8th is test), joined. Chapter: train-short-test-long."""
    _checks.choice("split", split, ("train", "test"))
    files = [f for i, f in enumerate(corpus_files()) if (i % 8 == 0) == (split == "test")]
    return encode("\n".join(f.read_text(encoding="utf-8", errors="replace") for f in files))


def _windows(text: torch.Tensor, batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """(batch, length) random windows of ``text``."""
    if text.numel() < length + 1:
        raise ValueError(f"the corpus ({text.numel()} characters) is shorter than length = {length}")
    starts = torch.randint(0, text.numel() - length, (batch,), generator=gen)  # (batch,)
    return text[starts[:, None] + torch.arange(length)]  # (batch, length)


def text_batch(text: torch.Tensor, batch: int, length: int, gen: torch.Generator) -> dict:
    """Plain text: ``tokens`` (batch, length + 1), nothing ``copyable``. Chapter: train-short-test-long."""
    tokens = _windows(text, batch, length + 1, gen)
    return {"tokens": tokens, "copyable": torch.zeros(batch, length, dtype=torch.bool)}


def repeat_batch(text: torch.Tensor, batch: int, length: int, gen: torch.Generator, period: int | None = None) -> dict:
    """Text repeated with ``period`` (default about length / 2), the copy split marked. Chapter: train-short-test-long.

    ``tokens`` (batch, length + 1): a window of ``period`` characters repeated; ``copyable`` (batch, length)
    marks the targets ``tokens[:, 1:]`` that already occurred ``period`` places earlier.
    """
    period = (length + 1) // 2 if period is None else _checks.positive_int("period", period)
    if period > length:
        raise ValueError(f"period must be <= length = {length} (or nothing repeats), got {period}")
    seg = _windows(text, batch, period, gen)  # (batch, period)
    tokens = seg[:, torch.arange(length + 1) % period]  # (batch, length + 1)
    copyable = (torch.arange(1, length + 1) >= period).expand(batch, length)
    return {"tokens": tokens, "copyable": copyable.clone()}


def passkey_batch(
    text: torch.Tensor, batch: int, length: int, gen: torch.Generator, digits: int = 5, depth: float | None = None
) -> dict:
    """Text with « d1..dk » hidden at ``depth`` (0..1), « d1..dk at the end.

    Chapter: train-short-test-long (via lab.evaluate, lab.run).

    ``tokens`` (batch, length + 1); ``answer`` (batch, length) marks the targets that are the digits after
    the final «, the only characters the score counts (all of them ``copyable``). Recalling the key is an
    induction step: find the earlier «, copy what followed it.
    """
    _checks.positive_int("digits", digits)
    hidden, tail = digits + 2, digits + 1
    room = length + 1 - hidden - tail
    if room < 1:
        raise ValueError(f"length = {length} leaves no room for a {digits}-digit passkey")
    tokens = _windows(text, batch, length + 1, gen)
    keys = torch.randint(0, 10, (batch, digits), generator=gen) + _CHAR_ID["0"]  # (batch, digits)
    if depth is None:
        at = torch.randint(0, room, (batch,), generator=gen)
    else:
        depth = _checks.real_number("depth", depth)
        if not 0.0 <= depth <= 1.0:
            raise ValueError(f"depth must be in [0, 1], got {depth}")
        at = torch.full((batch,), round(depth * (room - 1)), dtype=torch.int64)
    rows = torch.arange(batch)[:, None]
    marked = torch.cat((torch.full((batch, 1), KEY), keys, torch.full((batch, 1), END)), 1)  # (batch, hidden)
    tokens[rows, at[:, None] + torch.arange(hidden)] = marked
    tokens[:, -tail:] = torch.cat((torch.full((batch, 1), KEY), keys), 1)
    answer = torch.zeros(batch, length, dtype=torch.bool)
    answer[:, -digits:] = True
    return {"tokens": tokens, "copyable": answer.clone(), "answer": answer}


def task_batch(task: str, text: torch.Tensor, batch: int, length: int, gen: torch.Generator) -> dict:
    """The test batch of ``task``: "text", "repeat" or "passkey", default settings.

    Chapter: train-short-test-long (via lab.evaluate).
    """
    _checks.choice("task", task, TASKS)
    if task == "text":
        return text_batch(text, batch, length, gen)
    if task == "repeat":
        return repeat_batch(text, batch, length, gen)
    return passkey_batch(text, batch, length, gen)


def training_batch(text: torch.Tensor, batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """Tokens (batch, length + 1): 1/4 text, 3/8 repeated text, 3/8 passkeys.

    Chapter: train-short-test-long (via lab.run).

    Repeated rows use a random period in [4, length / 2], so the model learns to copy within its window.
    """
    n_rep = n_key = (3 * batch) // 8
    parts = [text_batch(text, batch - n_rep - n_key, length, gen)["tokens"]]
    for _ in range(n_rep):
        period = int(torch.randint(4, length // 2 + 1, (1,), generator=gen))
        parts.append(repeat_batch(text, 1, length, gen, period)["tokens"])
    parts.append(passkey_batch(text, n_key, length, gen)["tokens"])
    return torch.cat(parts)  # (batch, length + 1)
