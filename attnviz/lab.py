"""The length-extrapolation lab: train a tiny causal LM short, test it long. Chapter: train-short-test-long.

One small model is trained at length ``train_len`` (64) on offline data: character-level Python
source from the standard library, the same text repeated (so later characters can be copied from
earlier ones) and passkey retrieval. At test time the attention takes a :class:`Method`, so the
inference-time remedies of the posts (position interpolation, NTK-aware / fixed / mixed, YaRN, the
log n scale, ReRoPE, Leaky ReRoPE, a sliding window, a window with sink tokens) run on the same
weights without retraining. :func:`evaluate` reports loss and accuracy at any length, split between
characters that can be copied from earlier in the text and characters that cannot; :func:`run` is the
whole comparison (``python -m attnviz.lab --help``), whose results ship in ``attnviz/data/lab``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import math
import platform
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .attention import causal_mask
from .positions import apply_rope, rerope_scores, rope_frequencies

ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))  # newline + printable ASCII
UNKNOWN, KEY, END = 0, len(ALPHABET) + 1, len(ALPHABET) + 2  # ids; characters are 1 .. len(ALPHABET)
VOCAB = len(ALPHABET) + 3
_CHAR_ID = {c: i + 1 for i, c in enumerate(ALPHABET)}
DATA_DIR = Path(__file__).resolve().parent / "data" / "lab"
TASKS = ("text", "repeat", "passkey")
POSITIONS = ("rope", "none")


# ---------------------------------------------------------------------------------------------------------------
# Data: offline, deterministic
# ---------------------------------------------------------------------------------------------------------------


def encode(text: str) -> torch.Tensor:
    """Character ids (n,) int64: newline, printable ASCII, tabs as 4 spaces, else 0. Chapter: train-short-test-long."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    text = text.replace("\t", "    ")
    return torch.tensor([_CHAR_ID.get(c, UNKNOWN) for c in text], dtype=torch.int64)


def decode(ids: Iterable[int]) -> str:
    """Text of character ids; passkey markers print as « and », unknown ids as ?. Chapter: train-short-test-long."""
    marks = {UNKNOWN: "?", KEY: "«", END: "»"}
    return "".join(marks.get(int(i), ALPHABET[int(i) - 1] if 1 <= int(i) <= len(ALPHABET) else "?") for i in ids)


def corpus_files() -> list[Path]:
    """The standard library's top-level ``*.py`` files, sorted by name. Chapter: train-short-test-long."""
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
    starts = torch.randint(0, text.numel() - length, (batch,), generator=gen)
    return text[starts[:, None] + torch.arange(length)]


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
    """Text with « d1..dk » hidden at ``depth`` (0..1), « d1..dk at the end. Chapter: train-short-test-long.

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


def training_batch(text: torch.Tensor, batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """Tokens (batch, length + 1): 1/4 text, 3/8 repeated text, 3/8 passkeys. Chapter: train-short-test-long.

    Repeated rows use a random period in [4, length / 2], so the model learns to copy within its window.
    """
    n_rep = n_key = (3 * batch) // 8
    parts = [text_batch(text, batch - n_rep - n_key, length, gen)["tokens"]]
    for _ in range(n_rep):
        period = int(torch.randint(4, length // 2 + 1, (1,), generator=gen))
        parts.append(repeat_batch(text, 1, length, gen, period)["tokens"])
    parts.append(passkey_batch(text, n_key, length, gen)["tokens"])
    return torch.cat(parts)


# ---------------------------------------------------------------------------------------------------------------
# Inference-time position methods
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """How attention treats positions at inference; fields left at their defaults give plain RoPE.

    ``scaling``: a :func:`attnviz.positions.rope_frequencies` schedule, applied with factor
    max(1, n / train_len) for a sequence of length n (static scaling to the test length).
    ``logn``: queries at position p multiplied by max(1, ln(p + 1) / ln train_len) (the log n† scale).
    ``yarn_scale``: logits multiplied by (1 + 0.1 ln factor)^2. ``window``: each query sees only its
    last ``window`` keys, plus the first ``sinks`` keys. ``rerope``: ReRoPE window w; ``leak``: Leaky
    ReRoPE's k ("auto": the smallest k that keeps every relative position below train_len).
    """

    scaling: str | None = None
    mix: float = 0.625
    logn: bool = False
    yarn_scale: bool = False
    window: int | None = None
    sinks: int = 0
    rerope: int | None = None
    leak: float | str | None = None
    yarn_beta: float = 4.0

    def __post_init__(self) -> None:
        if self.rerope is not None and self.scaling is not None:
            raise ValueError("rerope and scaling cannot be combined (ReRoPE keeps the trained frequencies)")
        if self.leak is not None and self.rerope is None:
            raise ValueError("leak needs rerope (Leaky ReRoPE is ReRoPE with a finite k)")
        if self.sinks and self.window is None:
            raise ValueError("sinks needs window (sink tokens are kept visible outside a sliding window)")


METHODS: dict[str, Method] = {
    "rope": Method(),
    "pi": Method(scaling="linear"),
    "ntk": Method(scaling="ntk"),
    "ntk-fixed": Method(scaling="ntk-fixed"),
    "ntk-mixed": Method(scaling="ntk-mixed"),
    "yarn": Method(scaling="yarn", yarn_scale=True),
    "rerope-w16": Method(rerope=16),
    "rerope-w32": Method(rerope=32),
    "rerope-w48": Method(rerope=48),
    "rerope-w64": Method(rerope=64),
    "leaky-rerope-w32": Method(rerope=32, leak="auto"),
    "window": Method(window=64),
    "window+sinks": Method(window=64, sinks=4),
    "rope+logn": Method(logn=True),
    "pi+logn": Method(scaling="linear", logn=True),
    "ntk+logn": Method(scaling="ntk", logn=True),
    "ntk-mixed+logn": Method(scaling="ntk-mixed", logn=True),
    "rerope-w32+logn": Method(rerope=32, logn=True),
}


def method(name: str) -> Method:
    """The :class:`Method` called ``name`` in :data:`METHODS`. Chapter: train-short-test-long."""
    _checks.choice("name", name, tuple(METHODS))
    return METHODS[name]


# ---------------------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabConfig:
    """Model and training settings. ``position``: "rope" or "none" (NoPE). ``logn_train``: every logit of
    query position p is scaled by log_L(p + 1) in training and at test (a :class:`Method`'s ``logn`` is then moot).
    """

    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    base: float = 10000.0
    position: str = "rope"
    logn_train: bool = False
    train_len: int = 64
    steps: int = 3000
    batch: int = 32
    lr: float = 3e-3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "train_len", "steps", "batch"):
            _checks.positive_int(name, getattr(self, name))
        _checks.choice("position", self.position, POSITIONS)
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model / n_heads must be an even integer, got {self.d_model} / {self.n_heads}")
        if self.train_len < 16:
            raise ValueError(f"train_len must be >= 16 (room for a passkey), got {self.train_len}")
        _checks.real_number("lr", self.lr, positive=True)


class Attention(nn.Module):
    """Causal multi-head self-attention whose positions and scale come from a :class:`Method`."""

    def __init__(self, cfg: LabConfig) -> None:
        super().__init__()
        self.cfg, self.d_head = cfg, cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, how: Method, keep: list | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.cfg.n_heads, self.d_head).permute(2, 0, 3, 1, 4)  # (b, h, n, dh)
        weights = torch.softmax(self.logits(q, k, how), dim=-1)  # (b, h, n, n)
        if keep is not None:
            keep.append(weights.detach())
        return self.out((weights @ v).transpose(1, 2).reshape(b, n, -1))

    def logits(self, q: torch.Tensor, k: torch.Tensor, how: Method) -> torch.Tensor:
        """Masked, scaled logits (b, h, n, n) of pre-rotation q, k under ``how``."""
        cfg, n = self.cfg, q.shape[-2]
        factor = max(1.0, n / cfg.train_len)
        pos = torch.arange(n, dtype=torch.float64, device=q.device)
        scale = torch.full((n,), 1 / math.sqrt(self.d_head), dtype=torch.float64, device=q.device)
        if cfg.logn_train:
            scale = scale * torch.log1p(pos) / math.log(cfg.train_len)  # log_L(p + 1), also beyond L
        elif how.logn:
            scale = scale * (torch.log1p(pos) / math.log(cfg.train_len)).clamp(min=1.0)
        if how.yarn_scale:
            scale = scale * (1 + 0.1 * math.log(factor)) ** 2
        if cfg.position == "none":
            s = q @ k.transpose(-1, -2)
        elif how.rerope is not None:
            freqs = rope_frequencies(self.d_head, cfg.base)
            leak = how.leak
            if leak == "auto":
                leak = max(1.0, (n - 1 - how.rerope) / max(cfg.train_len - 1 - how.rerope, 1))
            s = rerope_scores(q, k, freqs, how.rerope, None if leak is None else float(leak))
        else:
            freqs = rope_frequencies(
                self.d_head, cfg.base, how.scaling, factor, mix=how.mix, train_len=cfg.train_len, beta=how.yarn_beta
            )
            s = apply_rope(q, pos, freqs) @ apply_rope(k, pos, freqs).transpose(-1, -2)
        s = s * scale.to(s.dtype)[:, None]  # (b, h, n, n), row p scaled
        return s.masked_fill(~visible(n, how.window, how.sinks, q.device), float("-inf"))


def visible(n: int, window: int | None = None, sinks: int = 0, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (n, n): key j visible to query i (causal, window, sinks). Chapter: train-short-test-long."""
    mask = causal_mask(n, n, device)
    if window is not None:
        i = torch.arange(n, device=device)[:, None]
        j = torch.arange(n, device=device)[None, :]
        mask = mask & ((i - j < window) | (j < sinks))
    return mask


class Block(nn.Module):
    """Pre-norm transformer block: attention then a GELU MLP (4 d_model wide)."""

    def __init__(self, cfg: LabConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(), nn.Linear(4 * cfg.d_model, cfg.d_model)
        )

    def forward(self, x: torch.Tensor, how: Method, keep: list | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), how, keep)
        return x + self.mlp(self.norm2(x))


class TinyLM(nn.Module):
    """A character-level causal LM with no absolute positions: RoPE (or nothing) inside attention."""

    def __init__(self, cfg: LabConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(VOCAB, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        for module in self.modules():  # GPT-2's small initialisation, so the tied logits start near zero
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, tokens: torch.Tensor, how: Method | str = "rope", keep: list | None = None) -> torch.Tensor:
        """Next-token logits (batch, n, VOCAB) of int64 ``tokens`` (batch, n)."""
        how = method(how) if isinstance(how, str) else how
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.int64 or tokens.dim() != 2:
            raise ValueError("tokens must be an int64 tensor of shape (batch, n)")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= VOCAB):
            raise ValueError(f"tokens must lie in [0, {VOCAB}) (attnviz.lab.encode makes them)")
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, how, keep)
        return self.norm(x) @ self.embed.weight.T  # tied input and output embeddings

    def attention_maps(self, tokens: torch.Tensor, how: Method | str = "rope") -> torch.Tensor:
        """Attention weights (layers, batch, heads, n, n) of one forward pass."""
        keep: list = []
        with torch.no_grad():
            self(tokens, how, keep)
        return torch.stack(keep)


# ---------------------------------------------------------------------------------------------------------------
# Training and checkpoints
# ---------------------------------------------------------------------------------------------------------------


def default_device() -> torch.device:
    """CUDA when available, else the CPU. Chapter: train-short-test-long."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(
    cfg: LabConfig,
    *,
    checkpoint: str | Path | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> tuple[TinyLM, dict]:
    """Train a :class:`TinyLM` at ``cfg.train_len``; returns (model, history). Chapter: train-short-test-long.

    AdamW with linear warm-up and cosine decay, seeded from ``cfg.seed`` (model and data). With
    ``checkpoint`` the weights, config and history are saved there (a ``.pt`` file).
    """
    if not isinstance(cfg, LabConfig):
        raise ValueError(f"cfg must be a LabConfig, got {type(cfg).__name__}")
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(cfg.seed)
    model = TinyLM(cfg).to(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    text = corpus("train")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.98))
    warm = max(1, cfg.steps // 20)

    def lr_at(step: int) -> float:
        return min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    losses, start = [], time.perf_counter()
    bar = _progress(range(cfg.steps), progress, f"train {cfg.position}{'+logn' if cfg.logn_train else ''}")
    model.train()
    for _ in bar:
        tokens = training_batch(text, cfg.batch, cfg.train_len, gen).to(device)
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tokens[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if hasattr(bar, "set_postfix") and len(losses) % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-50:]) / 50:.3f}")
    history = {"loss": losses, "seconds": time.perf_counter() - start, "device": str(device)}
    model.eval()
    if checkpoint is not None:
        save(model, history, checkpoint)
    return model, history


def _progress(it, enabled: bool, desc: str):
    if not enabled:
        return it
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar, same result
        return it
    return tqdm(it, desc=desc, mininterval=1.0)


def save(model: TinyLM, history: dict, path: str | Path) -> Path:
    """Write weights, config and history to ``path``. Chapter: train-short-test-long."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": dataclasses.asdict(model.cfg), "state": state, "history": history}, path)
    return path


def load(path: str | Path, device: torch.device | str | None = None) -> tuple[TinyLM, dict]:
    """A model and its history from a checkpoint written by :func:`save`. Chapter: train-short-test-long."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path must be a checkpoint file written by attnviz.lab.save, got {str(path)!r}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = TinyLM(LabConfig(**blob["config"]))
    model.load_state_dict(blob["state"])
    return model.to(device or "cpu").eval(), blob["history"]


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------


def _batch_for(task: str, text: torch.Tensor, batch: int, length: int, gen: torch.Generator) -> dict:
    if task == "text":
        return text_batch(text, batch, length, gen)
    if task == "repeat":
        return repeat_batch(text, batch, length, gen)
    return passkey_batch(text, batch, length, gen)


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
        data = _batch_for(task, text, min(batch, samples - start), length, gen)
        tokens = data["tokens"].to(device)
        logits = model(tokens[:, :-1], how).float()  # (b, n, VOCAB)
        target = tokens[:, 1:]
        loss = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (b, n)
        hit = (logits.argmax(-1) == target).float()
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


# ---------------------------------------------------------------------------------------------------------------
# The whole comparison
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    """What :func:`run` trains and measures: models (name -> config and methods), lengths, sample counts."""

    models: dict = field(default_factory=dict)
    lengths: tuple = (64, 128, 256, 512, 1024)
    samples: dict = field(default_factory=lambda: {"text": 32, "repeat": 32, "passkey": 64})
    batch: int = 16


def studies() -> dict[str, Study]:
    """Studies: ``full`` (chapter), ``small`` (re-run in it), ``reduced`` (tests). Chapter: train-short-test-long."""
    rope_methods = tuple(METHODS)
    window_only = ("rope", "window", "window+sinks")
    full = Study(
        models={
            "rope": (LabConfig(), rope_methods),
            "rope-logn": (LabConfig(logn_train=True), ("rope", "pi", "ntk", "ntk-mixed", "rerope-w32", "window")),
            "nope": (LabConfig(position="none"), window_only),
        }
    )
    small = LabConfig(d_model=32, n_layers=1, n_heads=2, train_len=32, steps=30, batch=8)
    reduced = Study(
        models={
            "rope": (small, ("rope", "pi", "ntk-mixed", "rerope-w16", "leaky-rerope-w32", "window+sinks", "rope+logn")),
            "nope": (dataclasses.replace(small, position="none"), ("rope", "window")),
        },
        lengths=(32, 64, 128),
        samples={"text": 2, "repeat": 2, "passkey": 4},
        batch=2,
    )
    tiny = LabConfig(d_model=64, n_layers=2, n_heads=2, steps=300, batch=16)
    small = Study(
        models={"rope": (tiny, ("rope", "pi", "ntk", "rerope-w16", "window"))},
        lengths=(64, 256),
        samples={"text": 8, "repeat": 8, "passkey": 16},
    )
    return {"full": full, "small": small, "reduced": reduced}


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
    for model_name, (cfg, names) in study.models.items():
        ckpt = None if checkpoints is None else Path(checkpoints) / f"{model_name}.pt"
        model, history = train(cfg, checkpoint=ckpt, device=device, progress=progress)
        trained[model_name] = {
            "config": dataclasses.asdict(cfg),
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_seconds": round(history["seconds"], 1),
            "final_loss": sum(history["loss"][-50:]) / len(history["loss"][-50:]),
        }
        eval_start = time.perf_counter()
        grid = [(m, n, t) for m in names for n in study.lengths for t in TASKS]
        for how, length, task in _progress(grid, progress, f"eval {model_name}"):
            n_samples = study.samples[task]
            res = evaluate(model, how, length, task, samples=n_samples, batch=study.batch)
            rows.append({"model": model_name, "method": how, "length": length, "task": task, **res})
        trained[model_name]["eval_seconds"] = round(time.perf_counter() - eval_start, 1)
    meta = {
        "study": name,
        "command": " ".join(["python -m attnviz.lab", *sys.argv[1:]]) if out is not None else None,
        "seconds": round(time.perf_counter() - start, 1),
        "device": str(device),
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "corpus_characters": {"train": corpus("train").numel(), "test": corpus("test").numel()},
        "lengths": list(study.lengths),
        "samples": study.samples,
        "models": trained,
        "methods": {m: dataclasses.asdict(METHODS[m]) for _, names in study.models.values() for m in names},
    }
    result = {"meta": meta, "rows": rows}
    if out is not None:
        write(result, out)
    return result


def write(result: dict, out: str | Path) -> Path:
    """Write a :func:`run` as ``results.json``, ``results.csv`` and ``meta.json``. Chapter: train-short-test-long."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "meta.json").write_text(json.dumps(result["meta"], indent=1) + "\n")
    keys = sorted({k for row in result["rows"] for k in row}, key=lambda k: (k not in ROW_KEYS, k))
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(result["rows"])
    return out


ROW_KEYS = ("model", "method", "length", "task")


def load_results(path: str | Path | None = None) -> dict:
    """The committed comparison (``attnviz/data/lab``) or one at ``path``. Chapter: train-short-test-long."""
    path = DATA_DIR / "results.json" if path is None else Path(path)
    if not path.is_file():
        raise ValueError(f"path must be a results.json written by attnviz.lab.run, got {str(path)!r}")
    return json.loads(path.read_text())


def table(result: dict, model: str, length: int, metric: str = "accuracy") -> dict[str, dict[str, float]]:
    """{method: {task: value}} of ``metric`` for one model and length. Chapter: train-short-test-long."""
    rows = [r for r in result["rows"] if r["model"] == model and r["length"] == length]
    if not rows:
        raise ValueError(f"no rows for model={model!r} at length={length} in this result")
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        if metric in r:
            out.setdefault(r["method"], {})[r["task"]] = r[metric]
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m attnviz.lab [--study full|reduced] [--out DIR] [--checkpoints DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m attnviz.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="full", choices=tuple(studies()))
    parser.add_argument("--out", default=str(DATA_DIR), help="where results.json/csv and meta.json go")
    parser.add_argument("--checkpoints", default=None, help="directory for the trained weights (.pt)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run(args.study, args.out, checkpoints=args.checkpoints, device=args.device, progress=not args.no_progress)
    print(f"{len(result['rows'])} rows in {result['meta']['seconds']} s -> {args.out}")


if __name__ == "__main__":
    main()
