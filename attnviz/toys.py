"""Toy tasks and one training loop for the chapters' small experiments (seconds on a CPU).

:func:`fit` is the only training loop: Adam on ``loss_fn(model, batch_fn(gen))`` for a number of
steps, batches drawn from one seeded generator, nothing task-specific (minGPT's trainer idea). A task
is a small frozen dataclass with ``batch(gen, size=None)``, ``loss(model, batch)`` and an evaluation;
the models are one attention layer each. A model's ``seed`` fixes its initial weights without touching
the global RNG. A chapter trains with::

    task = toys.CopyTask(vocab=16, length=32, lag=3)
    model = toys.Lookup(task.vocab, 32, pe="rope", seed=0)
    losses = toys.fit(model, task.batch, task.loss, steps=400, lr=3e-3, seed=1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .attention import attention, entropy_invariant_scale
from .linear import FEATURE_MAPS, feature_map
from .metrics import entropy
from .positions import apply_rope, rope_frequencies, sinusoidal


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block under torch.manual_seed(seed), then restore the global RNG.

    Chapter: rope-rotation (via Lookup, fit).
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_checks.seed(seed))
        yield


def fit(
    model: nn.Module,
    batch_fn: Callable[[torch.Generator], Any],
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    *,
    steps: int,
    lr: float,
    seed: int,
) -> list[float]:
    """Adam on loss_fn(model, batch_fn(gen)), gen seeded by ``seed``; the loss of each step. Chapter: rope-rotation."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(batch_fn) or not callable(loss_fn):
        raise ValueError("batch_fn must be callable as batch_fn(gen) and loss_fn as loss_fn(model, batch)")
    _checks.positive_int("steps", steps)
    lr = _checks.real_number("lr", lr, positive=True)
    gen = torch.Generator().manual_seed(_checks.seed(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    for _ in range(steps):
        loss = loss_fn(model, batch_fn(gen))
        if not (isinstance(loss, torch.Tensor) and loss.dim() == 0):
            raise ValueError(f"loss_fn must return a 0-d tensor, got {type(loss).__name__}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


def _size(size: int | None, default: int) -> int:
    return default if size is None else _checks.positive_int("size", size)


# --- copy at a lag --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CopyTask:
    """Random tokens (B, length); the answer at position t is the token at t - lag. Chapter: rope-rotation."""

    vocab: int = 16
    length: int = 32
    lag: int = 3
    batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("vocab", "length", "lag", "batch_size"):
            _checks.positive_int(name, getattr(self, name))
        if self.lag >= self.length:
            raise ValueError(f"lag must be < length = {self.length}, got {self.lag}")

    def batch(self, gen: torch.Generator, size: int | None = None) -> torch.Tensor:
        """Tokens (size, length), uniform over the vocabulary. Chapter: rope-rotation."""
        return torch.randint(0, self.vocab, (_size(size, self.batch_size), self.length), generator=gen)

    def loss(self, model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of model(tokens) (B, n, vocab) at t >= lag against tokens[t - lag]. Chapter: rope-rotation."""
        logits = model(tokens)[:, self.lag :]  # (B, n - lag, vocab)
        return F.cross_entropy(logits.reshape(-1, self.vocab), tokens[:, : -self.lag].reshape(-1))

    def accuracy(self, model: nn.Module, *, start: int = 0, size: int = 1024, seed: int = 2) -> float:
        """Share of positions >= lag answered right, positions shifted by ``start``. Chapter: rope-rotation."""
        tokens = self.batch(torch.Generator().manual_seed(seed), size)  # (size, n)
        with torch.no_grad():
            guess = model(tokens, start).argmax(-1)[:, self.lag :]
        return (guess == tokens[:, : -self.lag]).double().mean().item()


PE_KINDS = ("none", "sinusoidal", "rope", "rope-learned")


class Lookup(nn.Module):
    """One causal attention layer over token embeddings, positions by ``pe`` in PE_KINDS. Chapter: rope-rotation."""

    def __init__(self, vocab: int, d_model: int, pe: str = "rope", *, seed: int | None = 0) -> None:
        super().__init__()
        _checks.positive_int("vocab", vocab)
        _checks.positive_int("d_model", d_model, even=True)
        _checks.choice("pe", pe, PE_KINDS)
        self.pe, self.vocab, self.d_model = pe, vocab, d_model
        with seeded(seed):
            self.emb = nn.Embedding(vocab, d_model)
            self.wq, self.wk, self.wv = (nn.Linear(d_model, d_model) for _ in range(3))
            self.out = nn.Linear(d_model, vocab)
        theta0 = rope_frequencies(d_model).float()  # (d/2,)
        self.log_theta = nn.Parameter(theta0.log(), requires_grad=pe == "rope-learned")

    def forward(self, tokens: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Logits (B, n, vocab) of tokens (B, n) placed at positions start, ..., start + n - 1."""
        n = tokens.shape[-1]
        x = self.emb(tokens)  # (B, n, d)
        if self.pe == "sinusoidal":
            x = x + sinusoidal(start + n, self.d_model)[start:].float()
        q, k, v = self.wq(x), self.wk(x), self.wv(x)  # (B, n, d) each
        if self.pe.startswith("rope"):
            pos, theta = torch.arange(n) + start, self.log_theta.exp()
            q, k = apply_rope(q, pos, theta), apply_rope(k, pos, theta)
        return self.out(attention(q, k, v, causal=True))  # (B, n, vocab)


# --- key-value recall -----------------------------------------------------------------------------------------


class RecallBatch(NamedTuple):
    """Pairs keys, vals (B, pairs), the query key (B,), its value ``target`` (B,) and index ``pick`` (B,)."""

    keys: torch.Tensor
    vals: torch.Tensor
    query: torch.Tensor
    target: torch.Tensor
    pick: torch.Tensor


class RecallScore(NamedTuple):
    """Accuracy, median weight on the right pair, and the attention rows (B, pairs) in float64."""

    accuracy: float
    on_target: float
    rows: torch.Tensor


@dataclass(frozen=True)
class RecallTask:
    """``pairs`` (key, value) tokens, distinct keys, then a query key: answer its value. Chapter: attention-focus."""

    keys: int = 64
    values: int = 16
    pairs: int = 48
    batch_size: int = 128

    def __post_init__(self) -> None:
        for name in ("keys", "values", "pairs", "batch_size"):
            _checks.positive_int(name, getattr(self, name))
        if self.pairs > self.keys:
            raise ValueError(f"pairs must be <= keys = {self.keys} (keys are distinct), got {self.pairs}")

    def batch(self, gen: torch.Generator, size: int | None = None) -> RecallBatch:
        """A RecallBatch of ``size`` sequences (default batch_size). Chapter: attention-focus."""
        size = _size(size, self.batch_size)
        keys = torch.rand(size, self.keys, generator=gen).argsort(-1)[:, : self.pairs]  # distinct, (B, pairs)
        vals = torch.randint(0, self.values, (size, self.pairs), generator=gen)
        pick = torch.randint(0, self.pairs, (size,), generator=gen)
        rows = torch.arange(size)
        return RecallBatch(keys, vals, keys[rows, pick], vals[rows, pick], pick)

    def loss(self, model: nn.Module, batch: RecallBatch) -> torch.Tensor:
        """Cross-entropy of model(keys, vals, query) (B, values) against the target. Chapter: attention-focus."""
        return F.cross_entropy(model(batch.keys, batch.vals, batch.query), batch.target)

    def evaluate(self, model: nn.Module, batch: RecallBatch) -> RecallScore:
        """Accuracy, median weight on the right pair, rows model.row(...) (B, pairs). Chapter: attention-focus."""
        with torch.no_grad():
            right = model(batch.keys, batch.vals, batch.query).argmax(-1) == batch.target
            rows = model.row(batch.keys, batch.vals, batch.query)[0].double()  # (B, pairs)
        on_target = rows[torch.arange(len(batch.pick)), batch.pick].median()
        return RecallScore(right.double().mean().item(), on_target.item(), rows)


class Recall(nn.Module):
    """A query token attends once over (key + value) embeddings, softmax or linear. Chapter: attention-focus."""

    def __init__(
        self, keys: int, values: int, d: int, kind: str = "softmax", *, features: str = "elu+1", seed: int | None = 0
    ) -> None:
        super().__init__()
        for name, size in (("keys", keys), ("values", values), ("d", d)):
            _checks.positive_int(name, size)
        self.kind = _checks.choice("kind", kind, ("softmax", "linear"))
        self.phi = feature_map(_checks.choice("features", features, tuple(FEATURE_MAPS)))
        with seeded(seed):
            self.key_emb = nn.Embedding(keys, d)
            self.val_emb = nn.Embedding(values, d)
            self.query_emb = nn.Embedding(keys, d)
            self.wq, self.wk, self.wv = (nn.Linear(d, d) for _ in range(3))
            self.out = nn.Linear(d, values)

    def row(self, keys: torch.Tensor, vals: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The attention row (B, pairs) and the pair states x (B, pairs, d). Chapter: attention-focus."""
        x = self.key_emb(keys) + self.val_emb(vals)  # (B, n, d)
        q, k = self.wq(self.query_emb(query)), self.wk(x)  # (B, d), (B, n, d)
        if self.kind == "softmax":
            return torch.softmax((k @ q[:, :, None])[..., 0], -1), x
        sim = (self.phi(k) @ self.phi(q)[:, :, None])[..., 0]  # linear attention, (B, n)
        return sim / sim.sum(-1, keepdim=True), x

    def forward(self, keys: torch.Tensor, vals: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Value logits (B, values)."""
        a, x = self.row(keys, vals, query)
        return self.out((a[:, :, None] * self.wv(x)).sum(1))  # (B, values)


# --- retrieval of a real value --------------------------------------------------------------------------------


class RetrievalBatch(NamedTuple):
    """Keys x (B, n, d), scalar values y (B, n), and the index ``pick`` (B,) of the query's key."""

    x: torch.Tensor
    y: torch.Tensor
    pick: torch.Tensor

    @property
    def target(self) -> torch.Tensor:
        """The value under the query's key, (B,)."""
        return self.y[torch.arange(len(self.pick)), self.pick]


class RetrievalScore(NamedTuple):
    """Per length: mean squared error, mean weight on the right key, mean row entropy (nats)."""

    mse: list[float]
    weight: list[float]
    entropy: list[float]


@dataclass(frozen=True)
class RetrievalTask:
    """n Gaussian keys with scalar values; the query is one key: return its value. Chapter: entropy-invariant-scale."""

    d: int = 32
    length: int = 64
    batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("d", "length", "batch_size"):
            _checks.positive_int(name, getattr(self, name))

    def batch(self, gen: torch.Generator, size: int | None = None, n: int | None = None) -> RetrievalBatch:
        """A RetrievalBatch of ``size`` rows of ``n`` keys (or the defaults). Chapter: entropy-invariant-scale."""
        size, n = _size(size, self.batch_size), self.length if n is None else _checks.positive_int("n", n)
        x = torch.randn(size, n, self.d, generator=gen)  # keys, (B, n, d)
        y = torch.randn(size, n, generator=gen)  # values, (B, n)
        pick = torch.randint(0, n, (size,), generator=gen)  # the query's key, (B,)
        return RetrievalBatch(x, y, pick)

    def loss(self, model: nn.Module, batch: RetrievalBatch) -> torch.Tensor:
        """Mean squared error of model(x, y, pick)[0] (B,) against the target. Chapter: entropy-invariant-scale."""
        return ((model(batch.x, batch.y, batch.pick)[0] - batch.target) ** 2).mean()

    def evaluate(self, model: nn.Module, lengths: Sequence[int], *, size: int = 500, seed: int = 2) -> RetrievalScore:
        """Error, weight on the right key, entropy at each length (one generator). Chapter: entropy-invariant-scale."""
        gen, score = torch.Generator().manual_seed(seed), RetrievalScore([], [], [])
        with torch.no_grad():
            for n in lengths:
                batch = self.batch(gen, size, n)
                pred, a = model(*batch)  # (B,), (B, n)
                score.mse.append(((pred - batch.target) ** 2).mean().item())
                score.weight.append(a[torch.arange(size), batch.pick].mean().item())
                score.entropy.append(entropy(a).mean().item())
        return score


class Retriever(nn.Module):
    """One softmax attention row, scalar read-out, scale "standard" or "entropy". Chapter: entropy-invariant-scale."""

    def __init__(self, d: int, scale: str = "standard", *, train_len: int = 512, seed: int | None = 0) -> None:
        super().__init__()
        self.d = _checks.positive_int("d", d)
        self.scale = _checks.choice("scale", scale, ("standard", "entropy"))
        self.train_len = _checks.positive_int("train_len", train_len)
        with seeded(seed):
            self.wq = nn.Linear(d, d, bias=False)
            self.wk = nn.Linear(d, d, bias=False)
        self.gain = nn.Parameter(torch.ones(()))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, y: torch.Tensor, pick: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prediction (B,) and attention row (B, n) of the query x[b, pick[b]] over the keys x (B, n, d)."""
        query = x[torch.arange(len(pick)), pick]  # (B, d)
        scale = 1 / math.sqrt(self.d)
        if self.scale == "entropy":
            scale = entropy_invariant_scale(x.shape[1], self.d, self.train_len)  # log_512(n) / sqrt(d)
        logit = scale * torch.einsum("bd,bnd->bn", self.wq(query), self.wk(x))  # (B, n)
        a = torch.softmax(logit, -1)
        return self.gain * (a * y).sum(-1) + self.bias, a
