"""The length-extrapolation lab: train a tiny causal LM short, test it long. Chapter: train-short-test-long.

One small model is trained at length ``train_len`` (64) on offline data: character-level Python
source from the standard library, the same text repeated (so later characters can be copied from
earlier ones) and passkey retrieval. At test time the attention takes a :class:`Method` of the shared
registry :mod:`attnviz.extrapolation` (``lab.METHODS`` is that registry), so the
inference-time remedies of the posts (position interpolation, NTK-aware / fixed / mixed, YaRN, the
log n scale, ReRoPE, Leaky ReRoPE, a sliding window, a window with sink tokens) run on the same
weights without retraining. :func:`evaluate` reports loss and accuracy at any length, split between
characters that can be copied from earlier in the text and characters that cannot, per sequence too;
:func:`fixed_segment` scores one final segment read with growing context (post 9948's test);
:func:`paired_difference` compares two methods on the same sequences; :func:`run` is the whole
comparison (``python -m attnviz.lab --help``), whose results ship in ``attnviz/data/lab``;
:func:`probes` measures the chapter's other verdicts on one model, :func:`run_probes` on three seeds.

Modules, by role: :mod:`~attnviz.lab.data` (characters, corpus, task batches), :mod:`~attnviz.lab.model`
(:class:`LabConfig`, :class:`TinyLM`), :mod:`~attnviz.lab.train` (training, checkpoints),
:mod:`~attnviz.lab.evaluate`, :mod:`~attnviz.lab.stats` (paired differences with standard errors),
:mod:`~attnviz.lab.study` (the comparison, its files, :func:`table` and :func:`curve`),
:mod:`~attnviz.lab.probes` (per-model probes, ``seeds/extra.json``), :mod:`~attnviz.lab.posts` (the posts' GAU
benchmark numbers, from one file) and ``__main__`` (the command line).
Every name is importable from ``attnviz.lab``.
"""

from ..attention import causal_mask
from ..extrapolation import METHODS, Method, method
from ..positions import apply_rope, rerope_scores, rope_frequencies
from .data import (
    ALPHABET,
    END,
    KEY,
    TASKS,
    UNKNOWN,
    VOCAB,
    corpus,
    corpus_files,
    decode,
    encode,
    passkey_batch,
    repeat_batch,
    task_batch,
    text_batch,
    training_batch,
)
from .evaluate import evaluate, fixed_segment
from .model import POSITIONS, Attention, Block, LabConfig, TinyLM, visible
from .posts import GAU_FILE, gau_benchmark, gau_row
from .probes import at_factor, first_token_excess, load_probes, probes, run_probes
from .stats import difference, paired_difference, scores
from .study import (
    DATA_DIR,
    LAB_METHODS,
    ROW_KEYS,
    SEED_METHODS,
    Study,
    curve,
    load_results,
    run,
    studies,
    table,
    write,
)
from .train import default_device, load, progress_bar, save, train

__all__ = [
    "ALPHABET",
    "Attention",
    "Block",
    "DATA_DIR",
    "END",
    "GAU_FILE",
    "KEY",
    "LAB_METHODS",
    "LabConfig",
    "METHODS",
    "Method",
    "POSITIONS",
    "ROW_KEYS",
    "SEED_METHODS",
    "Study",
    "TASKS",
    "TinyLM",
    "UNKNOWN",
    "VOCAB",
    "apply_rope",
    "at_factor",
    "causal_mask",
    "corpus",
    "corpus_files",
    "curve",
    "decode",
    "difference",
    "default_device",
    "encode",
    "evaluate",
    "first_token_excess",
    "fixed_segment",
    "gau_benchmark",
    "gau_row",
    "load",
    "load_probes",
    "load_results",
    "main",
    "method",
    "paired_difference",
    "passkey_batch",
    "probes",
    "progress_bar",
    "repeat_batch",
    "rerope_scores",
    "rope_frequencies",
    "run",
    "run_probes",
    "save",
    "scores",
    "studies",
    "table",
    "task_batch",
    "text_batch",
    "train",
    "training_batch",
    "visible",
    "write",
]


def __getattr__(name: str) -> object:
    """``main`` (the command line) lives in ``__main__``, imported on first use so ``python -m`` runs it cleanly."""
    if name == "main":
        from .__main__ import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
