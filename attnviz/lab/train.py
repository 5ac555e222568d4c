"""Training the lab's model at its training length, and its checkpoints. Chapter: train-short-test-long."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import VOCAB, corpus, training_batch
from .model import LabConfig, TinyLM


def default_device() -> torch.device:
    """CUDA when available, else the CPU. Chapter: train-short-test-long (via lab.run)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def progress_bar(items: Iterable, enabled: bool, desc: str) -> Iterable:
    """``items`` behind a tqdm bar if ``enabled`` (and tqdm installed), else as is.

    Chapter: train-short-test-long (via lab.run).
    """
    if not enabled:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar, same result
        return items
    return tqdm(items, desc=desc, mininterval=1.0)


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
    bar = progress_bar(range(cfg.steps), progress, f"train {cfg.position}{'+logn' if cfg.logn_train else ''}")
    model.train()
    for _ in bar:
        tokens = training_batch(text, cfg.batch, cfg.train_len, gen).to(device)  # (batch, train_len + 1)
        logits = model(tokens[:, :-1])  # (batch, train_len, VOCAB)
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


def save(model: TinyLM, history: dict, path: str | Path) -> Path:
    """Write weights, config and history to ``path``. Chapter: train-short-test-long (via lab.run)."""
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
