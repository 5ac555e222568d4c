"""attnviz: the helper package of *Attention, re-derived*.

One module (or subpackage) per concept, each naming in its docstrings the chapter that introduces it:

- attention and its variants: :mod:`~attnviz.attention` (scores, weights, masks, the log n scale),
  :mod:`~attnviz.linear` (linear attention in its quadratic, recurrent and chunked forms);
- positions: :mod:`~attnviz.positions` (sinusoidal tables, RoPE, scaling schedules, ReRoPE, relative
  biases) and :mod:`~attnviz.extrapolation` (the inference-time length-extrapolation methods, by name);
- statistics of attention rows: :mod:`~attnviz.entropy`, :mod:`~attnviz.streaming` (without the n x n
  matrix), :mod:`~attnviz.sparsity` and its :mod:`~attnviz.axioms`, :mod:`~attnviz.sparsity_limits`,
  :mod:`~attnviz.random_models`, with :mod:`~attnviz.metrics` as the book's one-stop facade;
  :mod:`~attnviz.normalize` (entropy normalization) and :mod:`~attnviz.bayes` (Naive Bayes pooling);
- chapter tools: :mod:`~attnviz.verify` (checks that print and assert), :mod:`~attnviz.symbolic`
  (sympy), :mod:`~attnviz.toys` (toy tasks and a training loop), :mod:`~attnviz.che` (the Chomsky-hierarchy
  tasks of length-generalisation studies), :mod:`~attnviz.plots` and
  :mod:`~attnviz.explore` (figures and slider explorers);
- experiments with committed results: :mod:`~attnviz.lab` (train short, test long) and
  :mod:`~attnviz.pretrained` (real models, needing transformers).

Submodules and the names below load on first use (PEP 562), so ``import attnviz.positions`` pulls in
torch but not matplotlib, ipywidgets or PIL.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> the submodule that defines it; submodules themselves are attributes too (``attnviz.explore`` is
# the function, as it always was; the module is ``import attnviz.explore``)
_NAMES = {
    "Slider": "explore",
    "explore": "explore",
    "apply_rope": "positions",
    "rope_frequencies": "positions",
    "rotation_matrix": "positions",
    "sinusoidal": "positions",
    "attention_weights": "attention",
    "entropy_invariant_scale": "attention",
    "scores": "attention",
    "effective_support": "metrics",
    "entropy": "metrics",
    "streaming_row_entropy": "metrics",
    "streaming_row_stats": "metrics",
    "entropy_normalize": "normalize",
}
_SUBMODULES = (
    "attention",
    "axioms",
    "bayes",
    "entropy",
    "extrapolation",
    "focus",
    "lab",
    "linear",
    "metrics",
    "normalize",
    "plots",
    "positions",
    "pretrained",
    "random_models",
    "sparsity",
    "sparsity_limits",
    "streaming",
    "symbolic",
    "toys",
    "verify",
)

__all__ = sorted([*_NAMES, *(m for m in _SUBMODULES if m not in ("lab", "pretrained"))])


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_NAMES, *_SUBMODULES})
