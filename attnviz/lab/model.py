"""The lab's model: a two-layer character-level causal LM whose attention takes an inference-time method.

:class:`TinyLM` has no absolute positions: RoPE (or nothing, NoPE) acts inside :class:`Attention`, and
every forward pass is given a :class:`~attnviz.extrapolation.Method` of the shared registry, which says
how attention treats positions at the test length. Chapter: train-short-test-long.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import _checks
from ..attention import local_mask
from ..extrapolation import POSITIONS, Method, method, method_logits
from .data import VOCAB


@dataclass(frozen=True)
class LabConfig:
    """Model and training settings. Chapter: train-short-test-long (via lab.run, lab.load).

    ``position``: "rope", "none" (NoPE) or "alibi" (ALiBi's per-head linear biases, no rotation).
    ``logn_train``: every logit of query position p is scaled by
    log_L(p + 1) in training and at test (a :class:`Method`'s ``logn`` is then moot).
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
    """Causal multi-head self-attention whose positions and scale come from a :class:`Method`.

    Chapter: train-short-test-long (via lab.load).
    """

    def __init__(self, cfg: LabConfig) -> None:
        super().__init__()
        self.cfg, self.d_head = cfg, cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, how: Method, keep: list | None = None) -> torch.Tensor:
        """Attention output (b, n, d_model) of x (b, n, d_model); appends the weights to ``keep``."""
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.cfg.n_heads, self.d_head).permute(2, 0, 3, 1, 4)  # (b, h, n, dh)
        weights = torch.softmax(self.logits(q, k, how), dim=-1)  # (b, h, n, n)
        if keep is not None:
            keep.append(weights.detach())
        return self.out((weights @ v).transpose(1, 2).reshape(b, n, -1))

    def logits(self, q: torch.Tensor, k: torch.Tensor, how: Method) -> torch.Tensor:
        """Masked, scaled logits (b, h, n, n) of pre-rotation q, k (b, h, n, d_head) under ``how``."""
        cfg = self.cfg
        return method_logits(
            q, k, how, train_len=cfg.train_len, base=cfg.base, position=cfg.position, logn_train=cfg.logn_train
        )


def visible(n: int, window: int | None = None, sinks: int = 0, device: torch.device | None = None) -> torch.Tensor:
    """Boolean (n, n): key j visible to query i (causal, window, sinks).

    Chapter: train-short-test-long (via lab.evaluate, lab.load).
    """
    return local_mask(n, n, window, sinks, device)


class Block(nn.Module):
    """Pre-norm transformer block: attention then a GELU MLP (4 d_model wide).

    Chapter: train-short-test-long (via lab.load).
    """

    def __init__(self, cfg: LabConfig) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model), nn.GELU(), nn.Linear(4 * cfg.d_model, cfg.d_model)
        )

    def forward(self, x: torch.Tensor, how: Method, keep: list | None = None) -> torch.Tensor:
        """The block's output (b, n, d_model): x plus attention, then plus the MLP."""
        x = x + self.attn(self.norm1(x), how, keep)
        return x + self.mlp(self.norm2(x))


class TinyLM(nn.Module):
    """A character-level causal LM with no absolute positions: RoPE, ALiBi (or nothing) inside attention.

    Chapter: train-short-test-long (via lab.load).
    """

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
        x = self.embed(tokens)  # (batch, n, d_model)
        for block in self.blocks:
            x = block(x, how, keep)
        return self.norm(x) @ self.embed.weight.T  # tied input and output embeddings

    def attention_maps(self, tokens: torch.Tensor, how: Method | str = "rope") -> torch.Tensor:
        """Attention weights (layers, batch, heads, n, n) of one forward pass."""
        keep: list = []
        with torch.no_grad():
            self(tokens, how, keep)
        return torch.stack(keep)
