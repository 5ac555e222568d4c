"""SmolLM2 beyond its training length: perplexity with RoPE extensions applied at inference. Chapter: real-attention.

``python -m attnviz.pretrained extrapolation`` runs :func:`extrapolation` and writes the JSON that
ships as ``attnviz/data/pretrained/extrapolation.json``; :func:`load_results` reads it.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path

import torch

from .. import _checks
from ..attention import logn_scale
from ..extrapolation import METHODS as REGISTRY
from ..extrapolation import frequencies
from ..positions import yarn_logit_scale
from .models import load

METHODS = ("rope", "pi", "ntk", "rope+logn")  # the registry methods the committed experiment runs
DATA = Path(__file__).resolve().parent.parent / "data" / "pretrained"


def long_text() -> str:
    """A long English text available offline: Python's help topics, sorted by topic.

    Chapter: real-attention (via pretrained.load_results).

    The language reference's help pages as shipped with the running Python: technical prose with
    grammar rules and code examples. The text differs between Python versions; record the version.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def _static(name: str) -> bool:
    """Whether registry method ``name`` acts on SmolLM2 by new frequencies and a query scale only."""
    how = REGISTRY[name]
    return how.rerope is None and how.window is None and how.scaling != "dynamic"


SUPPORTED = tuple(name for name in REGISTRY if _static(name))  # every method target_nll can apply


@contextlib.contextmanager
def _applied(net: torch.nn.Module, name: str, n: int, train_len: int):
    """Apply registry method ``name`` to SmolLM2 for a window of n tokens; undo it afterwards.

    The frequency schedule replaces the rotary embedding's frequencies; the log n scale and YaRN's logit
    scale multiply the queries (row p of the logits), before RoPE, which is linear, so before = after.
    """
    how, config, rotary = REGISTRY[name], net.config, net.model.rotary_emb
    saved = rotary.inv_freq.clone()
    if how.scaling is not None:
        base = float(config.rope_parameters["rope_theta"])
        rotary.inv_freq.copy_(frequencies(how, config.head_dim, base, n, train_len).to(saved.dtype))
    scale = torch.ones(n, dtype=torch.float64)  # (n,) per query position
    if how.logn:
        scale = scale * logn_scale(torch.arange(n), train_len)
    if how.yarn_scale:
        scale = scale * yarn_logit_scale(n / train_len)
    rows = scale.float()[:, None]  # (n, 1)
    hooks = []
    if bool((scale != 1.0).any()):

        def rescale(module, args, out):
            return out * rows  # (1, n, heads * d) times (n, 1)

        hooks = [layer.self_attn.q_proj.register_forward_hook(rescale) for layer in net.model.layers]
    try:
        yield
    finally:
        rotary.inv_freq.copy_(saved)
        for hook in hooks:
            hook.remove()


def target_nll(ids: torch.Tensor, method: str = "rope", *, train_len: int = 8192, target: int = 512) -> float:
    """Mean NLL (nats/token) of the last ``target`` of ``ids`` (n,), SmolLM2 with ``method``.

    Chapter: real-attention (via pretrained.load_results).

    ``method``: a name of the :mod:`attnviz.extrapolation` registry that changes only the frequencies and
    the query scale (:data:`SUPPORTED`), at s = max(1, n / train_len): "rope" (plain), "pi" (frequencies / s),
    "ntk" (base * s^(d/(d-2))), "rope+logn" (queries times max(1, log(m+1)/log(train_len))), ... SDPA attention.
    """
    _checks.choice("method", method, SUPPORTED)
    _checks.positive_int("train_len", train_len)
    _checks.positive_int("target", target)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.is_floating_point():
        raise ValueError(f"ids must be a 1-D integer tensor of token ids, got {ids!r}")
    if not target < len(ids):
        raise ValueError(f"target must be < len(ids) = {len(ids)} (the first token has no prediction), got {target}")
    net, _ = load("smollm2")
    net.set_attn_implementation("sdpa")
    try:
        with torch.no_grad(), _applied(net, method, len(ids), train_len):
            hidden = net.model(input_ids=ids[None]).last_hidden_state[0, -target - 1 : -1]  # (target, hidden)
            logits = net.lm_head(hidden)  # (target, vocab): only the scored positions
            return float(torch.nn.functional.cross_entropy(logits.float(), ids[-target:]))
    finally:
        net.set_attn_implementation("eager")


def extrapolation(
    lengths: tuple[int, ...], methods: tuple[str, ...] = METHODS, *, train_len: int = 8192, target: int = 512
) -> list[dict]:
    """Perplexity of the same last ``target`` tokens of long_text() as the context grows. Chapter: real-attention.

    Every window ends at token max(lengths) of the text, so each method scores the same tokens with
    more and more context before them. Windows of at most ``train_len`` tokens run "rope" only: there
    every method equals plain RoPE (s = 1, log-n scale 1). Rows: length, method, factor, nll, ppl, seconds.
    """
    _, tokenizer = load("smollm2")
    ids = tokenizer(long_text(), return_tensors="pt", add_special_tokens=False)["input_ids"][0]  # no BOS, as tokenize
    end = max(lengths)
    if end > len(ids):
        raise ValueError(f"lengths must be <= {len(ids)} (tokens in long_text()), got {end}")
    rows = []
    for n in lengths:
        for name in methods if n > train_len else [m for m in methods if m == "rope"]:
            start = time.perf_counter()
            nll = target_nll(ids[end - n : end], name, train_len=train_len, target=target)
            seconds = time.perf_counter() - start
            factor = max(1.0, n / train_len)
            rows.append(
                {"length": n, "method": name, "factor": factor, "nll": nll, "ppl": math.exp(nll), "seconds": seconds}
            )
            print(f"n = {n:6d}  {name:9s}  ppl = {math.exp(nll):9.3f}  ({seconds:.1f} s)", flush=True)
    return rows


def load_results(name: str = "extrapolation") -> dict:
    """Committed results of ``python -m attnviz.pretrained <name>`` (JSON, package data). Chapter: real-attention."""
    _checks.choice("name", name, ("extrapolation",))
    return json.loads((DATA / f"{name}.json").read_text())
