"""attnviz: the helper package of *Attention, re-derived*.

Attention variants (:mod:`attnviz.attention`), position encodings (:mod:`attnviz.positions`),
row statistics (:mod:`attnviz.metrics`), sparsity measures (:mod:`attnviz.sparsity`), the
concentration limits of attention rows (:mod:`attnviz.focus`), entropy normalization
(:mod:`attnviz.normalize`), Naive Bayes context pooling (:mod:`attnviz.bayes`), the
length-extrapolation lab (:mod:`attnviz.lab`), real pretrained models (:mod:`attnviz.pretrained`,
needing transformers; both imported on their own, ``from attnviz import lab, pretrained``),
figures (:mod:`attnviz.plots`) and slider explorers (:mod:`attnviz.explore`). Each public function's
docstring names the chapter that introduces it.
"""

from . import attention, bayes, focus, metrics, normalize, plots, positions, sparsity
from .attention import attention_weights, entropy_invariant_scale, scores
from .explore import Slider, explore
from .metrics import effective_support, entropy, streaming_row_entropy, streaming_row_stats
from .normalize import entropy_normalize
from .positions import apply_rope, rope_frequencies, rotation_matrix, sinusoidal

__version__ = "0.1.0"

__all__ = [
    "Slider",
    "apply_rope",
    "attention",
    "attention_weights",
    "bayes",
    "effective_support",
    "entropy",
    "entropy_invariant_scale",
    "entropy_normalize",
    "explore",
    "focus",
    "metrics",
    "normalize",
    "plots",
    "positions",
    "rope_frequencies",
    "rotation_matrix",
    "scores",
    "sinusoidal",
    "sparsity",
    "streaming_row_entropy",
    "streaming_row_stats",
]
