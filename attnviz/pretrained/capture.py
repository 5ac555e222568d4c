"""What the pretrained models compute inside: attention weights and logits, and SmolLM2's q and k before RoPE.

Eager attention's logits are caught as the input of ``torch.nn.functional.softmax`` (a
:class:`~torch.overrides.TorchFunctionMode`), the projections by forward hooks. :func:`rope_logits`
rebuilds the logits from q and k with :mod:`attnviz.positions`, so :func:`relative_error` can compare
them with the model's own. Chapter: real-attention.
"""

from __future__ import annotations

import math

import torch
from torch.overrides import TorchFunctionMode

from .. import _checks
from ..attention import scores
from ..positions import apply_rope, rope_frequencies
from .models import MODELS, load, tokenize


class _SoftmaxInputs(TorchFunctionMode):
    """Records the input of every torch.nn.functional.softmax call: eager attention's logits."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.nn.functional.softmax:
            self.inputs.append(args[0].detach())
        return func(*args, **(kwargs or {}))


def _run(model: str, ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> tuple[list, list]:
    """One eager forward pass: (attention weights per layer, logits per layer), each (1, heads, n, n)."""
    net, _ = load(model)
    kw = {} if position_ids is None else {"position_ids": position_ids[None]}
    with torch.no_grad(), _SoftmaxInputs() as capture:
        out = net(input_ids=ids[None], output_attentions=True, **kw)
    weights, logits = list(out.attentions), capture.inputs
    if len(logits) != len(weights) or any(a.shape != w.shape for a, w in zip(logits, weights, strict=False)):
        raise RuntimeError(
            f"captured {len(logits)} softmax inputs for {len(weights)} attention layers: "
            "this transformers version computes eager attention differently"
        )
    return weights, logits


def _masked(logits: torch.Tensor) -> torch.Tensor:
    """Logits with the additive mask's huge negative entries replaced by -inf."""
    return logits.masked_fill(logits < torch.finfo(logits.dtype).min / 2, -math.inf)


def attention_maps(
    text: str, model: str = "smollm2", *, logits: bool = False, max_tokens: int = 512
) -> tuple[torch.Tensor, list[str]]:
    """Weights (layers, heads, n, n) of every layer and head for ``text``, and its n tokens. Chapter: real-attention.

    ``logits=True`` returns the model's own pre-softmax logits instead (already scaled by 1/sqrt(d),
    -inf at masked keys). Float32, computed by the model's eager attention. ``max_tokens`` guards
    against materialising huge maps.
    """
    _checks.choice("model", model, tuple(MODELS))
    _checks.positive_int("max_tokens", max_tokens)
    ids, tokens = tokenize(text, model)
    if len(tokens) > max_tokens:
        raise ValueError(f"text has {len(tokens)} tokens, more than max_tokens = {max_tokens}")
    weights, raw = _run(model, ids)
    if logits:
        return _masked(torch.cat(raw)), tokens  # (layers, heads, n, n)
    return torch.cat(weights), tokens


def rope_inputs(text: str, layer: int, *, offset: int = 0) -> dict[str, torch.Tensor]:
    """SmolLM2 layer ``layer``: q, k before RoPE and the model's own logits for ``text``. Chapter: real-attention.

    Keys: ``q`` (heads, n, d) and ``k`` (kv_heads, n, d), the outputs of q_proj and k_proj split into
    heads (the model then rotates them in the "half" layout); ``logits`` (heads, n, n), the model's eager
    logits, scaled by 1/sqrt(d), -inf above the diagonal; ``positions`` (n,) = offset + arange(n), the
    position ids the model was run with; ``base``, the RoPE base of the model's config (0-d tensor).
    """
    net, _ = load("smollm2")
    config = net.config
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < config.num_hidden_layers:
        raise ValueError(f"layer must be an int in [0, {config.num_hidden_layers - 1}], got {layer!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be an int >= 0 (a shift of every position), got {offset!r}")
    ids, _ = tokenize(text, "smollm2")
    positions = torch.arange(len(ids)) + offset
    attn = net.model.layers[layer].self_attn
    outputs: dict[str, torch.Tensor] = {}

    def keep(key):
        return lambda module, args, out: outputs.__setitem__(key, out.detach()[0])

    hooks = [attn.q_proj.register_forward_hook(keep("q")), attn.k_proj.register_forward_hook(keep("k"))]
    try:
        _, raw = _run("smollm2", ids, positions)
    finally:
        for hook in hooks:
            hook.remove()
    d, n = config.head_dim, len(ids)
    return {
        "q": outputs["q"].view(n, -1, d).transpose(0, 1),  # (heads, n, d)
        "k": outputs["k"].view(n, -1, d).transpose(0, 1),  # (kv_heads, n, d)
        "logits": _masked(raw[layer][0]),  # (heads, n, n)
        "positions": positions,
        "base": torch.tensor(float(config.rope_parameters["rope_theta"])),
    }


def rope_logits(
    inputs: dict[str, torch.Tensor],
    layout: str = "half",
    base: float | None = None,
    shift: float = 0.0,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Logits (heads, n, n), unmasked, of :func:`rope_inputs`' q and k rotated by attnviz. Chapter: real-attention.

    Positions ``inputs["positions"] + shift``, ``base`` (default: the model's), scale 1/sqrt(d); with
    grouped-query attention query head h reads key head h // (heads / kv_heads), as the model does.
    """
    q, k = inputs["q"], inputs["k"]
    if q.dim() != 3 or k.dim() != 3 or q.shape[1:] != k.shape[1:] or q.shape[0] % k.shape[0]:
        raise ValueError(
            f"inputs must hold q (heads, n, d) and k (kv_heads, n, d), got {tuple(q.shape)}, {tuple(k.shape)}"
        )
    base = float(inputs["base"]) if base is None else _checks.real_number("base", base, positive=True)
    freqs = rope_frequencies(q.shape[-1], base)  # (d / 2,)
    positions = inputs["positions"].double() + _checks.real_number("shift", shift)  # (n,)
    q = apply_rope(q.to(dtype), positions, freqs, layout=layout)  # (heads, n, d)
    k = apply_rope(k.to(dtype), positions, freqs, layout=layout)  # (kv_heads, n, d)
    return scores(q, k.repeat_interleave(q.shape[0] // k.shape[0], dim=0))  # (heads, n, n)


def relative_error(ours: torch.Tensor, logits: torch.Tensor) -> float:
    """max |ours - logits| / max |logits| over the entries where ``logits`` is not -inf. Chapter: real-attention."""
    if ours.shape != logits.shape:
        raise ValueError(f"ours and logits must have the same shape, got {tuple(ours.shape)}, {tuple(logits.shape)}")
    seen = ~torch.isneginf(logits)  # the visible (causal) entries
    if not bool(seen.any()):
        raise ValueError("logits must have at least one entry that is not -inf")
    reference = logits[seen].double()
    return float((ours[seen].double() - reference).abs().max() / reference.abs().max())
