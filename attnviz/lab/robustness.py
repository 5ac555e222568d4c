"""Positional robustness on the Chomsky-hierarchy tasks (post 9444): train at length <= 40, test far longer.

A small bidirectional encoder with RoPE reads a task's input tokens, between a begin and an end marker, at given
positions. Answers as long as the input (reverse_string) are read position by position; one-symbol answers
(even_pairs, parity_check) from the begin marker. Four arms per task: positions 0..n-1 or random sorted
positions from range(pool) (random position training, Ruoss et al. 2023; tested with random positions too),
each with or without the log n scale
(every logit times log n / log L, L the longest training length). ``python -m attnviz.lab.robustness`` trains
every (task, arm, seed) and scores whole answers at several lengths; the chapter loads the committed results
(``attnviz/data/lab/robustness``). Chapter: positional-robustness.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks, che
from ..positions import apply_rope, random_positions, rope_frequencies

ROBUST_DIR = Path(__file__).resolve().parents[1] / "data" / "lab" / "robustness"
ARMS = ("plain", "logn", "random", "random+logn")
TASKS = ("even_pairs", "parity_check", "reverse_string")


@dataclass(frozen=True)
class RobustConfig:
    """One training run: the task, the arm (``ARMS``), model size and training settings.
    Chapter: positional-robustness (via load_robustness)."""

    task: str = "reverse_string"
    arm: str = "plain"
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    train_max: int = 40
    pool: int = 256  # random positions come from range(pool): room for the longest test, markers included
    steps: int = 3000
    batch: int = 64
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        _checks.choice("task", self.task, TASKS)
        _checks.choice("arm", self.arm, ARMS)
        for name in ("d_model", "n_layers", "n_heads", "train_max", "pool", "steps", "batch"):
            _checks.positive_int(name, getattr(self, name))
        if self.d_model % (2 * self.n_heads):
            raise ValueError(f"d_model must be a multiple of 2 n_heads, got {self.d_model} and {self.n_heads}")
        if not 2 <= self.train_max <= self.pool:
            raise ValueError(f"train_max must be in [2, pool], got {self.train_max} (pool {self.pool})")


class Encoder(nn.Module):
    """Bidirectional pre-norm transformer with RoPE at given positions and an optional log n scale.

    Chapter: positional-robustness (via load_robustness).
    """

    def __init__(self, cfg: RobustConfig) -> None:
        super().__init__()
        self.cfg, self.d_head = cfg, cfg.d_model // cfg.n_heads
        vocab_in, vocab_out = (len(s) for s in che.ALPHABETS[cfg.task])
        self.begin, self.end = vocab_in, vocab_in + 1  # marker ids after the task's symbols
        self.embed = nn.Embedding(vocab_in + 2, cfg.d_model)
        self.qkv = nn.ModuleList(nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False) for _ in range(cfg.n_layers))
        self.out = nn.ModuleList(nn.Linear(cfg.d_model, cfg.d_model, bias=False) for _ in range(cfg.n_layers))
        self.mlp = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(cfg.d_model), nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(),
                          nn.Linear(4 * cfg.d_model, cfg.d_model))
            for _ in range(cfg.n_layers)
        )  # fmt: skip
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.d_model) for _ in range(cfg.n_layers + 1))
        self.head = nn.Linear(cfg.d_model, vocab_out)
        self.register_buffer("freqs", rope_frequencies(self.d_head).float(), persistent=False)

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Output logits of input tokens (b, m) at positions (b, m + 2), the markers' included: (b, m, vocab_out)
        for sequence answers, (b, 1, vocab_out) for one-symbol answers."""
        cfg, b = self.cfg, tokens.shape[0]
        begin, end = torch.full((b, 1), self.begin), torch.full((b, 1), self.end)
        x = self.embed(torch.cat((begin, tokens, end), dim=1))  # (b, n, d_model), n = m + 2
        n = x.shape[1]
        scale = 1 / math.sqrt(self.d_head)
        if cfg.arm.endswith("logn"):
            scale *= math.log(max(n, 2)) / math.log(cfg.train_max)  # entropy-invariant: log_L n
        pos = positions.to(torch.float64)[:, None, :]  # (b, 1, n): broadcast over heads
        for qkv, out, mlp, norm in zip(self.qkv, self.out, self.mlp, self.norms, strict=False):
            q, k, v = qkv(norm(x)).view(b, n, 3, cfg.n_heads, self.d_head).permute(2, 0, 3, 1, 4)  # (b, h, n, dh)
            q, k = apply_rope(q, pos, self.freqs), apply_rope(k, pos, self.freqs)
            weights = torch.softmax(scale * q @ k.transpose(-1, -2), dim=-1)  # (b, h, n, n), bidirectional
            x = x + out((weights @ v).transpose(1, 2).reshape(b, n, cfg.d_model))
            x = x + mlp(x)
        x = self.norms[-1](x)  # (b, n, d_model)
        one = che.output_length(cfg.task, n - 2) == 1
        return self.head(x[:, :1] if one else x[:, 1:-1])  # read at the begin marker, or at every input token


def positions_for(cfg: RobustConfig, batch: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """Positions (batch, n) int64 for n tokens (markers included): 0..n-1, or each row sorted distinct draws from
    range(pool). Chapter: positional-robustness (via load_robustness)."""
    if not cfg.arm.startswith("random"):
        return torch.arange(n).expand(batch, n)
    if n > cfg.pool:
        raise ValueError(f"length {n} is longer than the position pool {cfg.pool}")
    return torch.stack([random_positions(n, cfg.pool, generator=generator) for _ in range(batch)])


def train(cfg: RobustConfig) -> Encoder:
    """Adam on cross-entropy, each step one batch of a length drawn from 2..train_max.
    Chapter: positional-robustness."""
    torch.manual_seed(cfg.seed)
    model = Encoder(cfg)
    gen = torch.Generator().manual_seed(10_000 + cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    lengths = [n for n in range(2, cfg.train_max + 1) if _valid(cfg.task, n)]
    for _ in range(cfg.steps):
        n = lengths[int(torch.randint(len(lengths), (1,), generator=gen))]
        inputs, targets = che.sample(cfg.task, cfg.batch, n, generator=gen)  # (b, n), (b, n_out)
        logits = model(inputs, positions_for(cfg, cfg.batch, n + 2, gen))  # (b, n_out, vocab_out)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _valid(task: str, n: int) -> bool:
    try:
        che.output_length(task, n)
    except ValueError:
        return False
    return True


def score(model: Encoder, n: int, samples: int, *, seed: int = 0) -> list[int]:
    """1 for each test sample of length n answered exactly right, else 0.
    Chapter: positional-robustness (via load_robustness)."""
    gen = torch.Generator().manual_seed(20_000 + seed * 1_000 + n)
    inputs, targets = che.sample(model.cfg.task, samples, n, generator=gen)
    with torch.no_grad():
        guess = model(inputs, positions_for(model.cfg, samples, n + 2, gen)).argmax(-1)  # (samples, n_out)
    return (guess == targets).all(dim=-1).int().tolist()


def run(
    out: str | Path,
    *,
    tasks: tuple[str, ...] = TASKS,
    arms: tuple[str, ...] = ARMS,
    seeds: tuple[int, ...] = (0, 1, 2),
    lengths: tuple[int, ...] = (40, 100, 200),
    samples: int = 200,
    **settings: object,
) -> dict:
    """Train every (task, arm, seed), score each length; write results.json and meta.json to ``out``.

    Chapter: positional-robustness (via load_robustness).
    """
    start, rows = time.time(), []
    for task in tasks:
        for arm in arms:
            for seed in seeds:
                cfg = RobustConfig(task=task, arm=arm, seed=seed, **settings)
                tick = time.time()
                model = train(cfg)
                for n in lengths:
                    if _valid(task, n):
                        rows.append({"task": task, "arm": arm, "seed": seed, "length": n,
                                     "correct": score(model, n, samples, seed=seed)})  # fmt: skip
                print(f"{task:15s} {arm:12s} seed {seed}: {time.time() - tick:5.1f} s", flush=True)
    config = dataclasses.asdict(RobustConfig(**settings))
    results = {"config": {k: v for k, v in config.items() if k not in ("task", "arm", "seed")}, "rows": rows}
    meta = {"seconds": round(time.time() - start, 1), "torch": torch.__version__, "python": platform.python_version(),
            "tasks": list(tasks), "arms": list(arms), "seeds": list(seeds), "lengths": list(lengths),
            "samples": samples, "threads": torch.get_num_threads()}  # fmt: skip
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results) + "\n")
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return results


def load_robustness(path: str | Path = ROBUST_DIR) -> tuple[dict, dict]:
    """(results, meta) of a run; by default the committed one. Chapter: positional-robustness."""
    path = Path(path)
    return json.loads((path / "results.json").read_text()), json.loads((path / "meta.json").read_text())


def accuracy(results: dict, task: str, arm: str, length: int) -> tuple[float, float, int]:
    """(mean exact-answer accuracy, its standard error over training seeds, seeds). Chapter: positional-robustness."""
    per_seed = [sum(r["correct"]) / len(r["correct"]) for r in results["rows"]
                if (r["task"], r["arm"], r["length"]) == (task, arm, length)]  # fmt: skip
    if not per_seed:
        raise ValueError(f"no results for task {task!r}, arm {arm!r}, length {length}")
    m = len(per_seed)
    mean = sum(per_seed) / m
    sd = math.sqrt(sum((a - mean) ** 2 for a in per_seed) / (m - 1)) if m > 1 else math.nan
    return mean, sd / math.sqrt(m), m


def main(argv: list[str] | None = None) -> None:
    """``python -m attnviz.lab.robustness --out DIR``: the whole study (about 40 min on one thread).
    Chapter: positional-robustness (via load_robustness)."""
    parser = argparse.ArgumentParser(prog="python -m attnviz.lab.robustness", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROBUST_DIR))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=RobustConfig.steps)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    run(args.out, seeds=tuple(range(args.seeds)), steps=args.steps)


if __name__ == "__main__":
    main()
