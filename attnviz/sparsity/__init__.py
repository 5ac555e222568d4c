"""Sparsity of attention rows (post 9595): the measures and the axioms they satisfy. Chapter: sparsity-measures.

The measures live in :mod:`attnviz.sparsity.measures`, the axiom claims and their property harness in
:mod:`attnviz.sparsity.axioms` (which builds on the measures), the Rényi entropies in
:mod:`attnviz.entropy`; every name is importable from here, as before the split.
"""

from ..entropy import participation_ratio, renyi, renyi_from_logits
from .axioms import (
    AXIOMS,
    check_axiom,
    check_axioms,
    claimed_axioms,
    robin_hood_paths,
    robin_hood_worst,
    sparse_end,
)
from .measures import (
    KINDS,
    effective_count,
    entropy_sparsity,
    gini,
    hoyer,
    s0,
    s1p,
    sparsity,
    sparsity_from_logits,
    sparsity_index,
    sstar,
)

__all__ = [
    "AXIOMS",
    "KINDS",
    "check_axiom",
    "check_axioms",
    "claimed_axioms",
    "effective_count",
    "entropy_sparsity",
    "gini",
    "hoyer",
    "participation_ratio",
    "renyi",
    "renyi_from_logits",
    "robin_hood_paths",
    "robin_hood_worst",
    "s0",
    "s1p",
    "sparse_end",
    "sparsity",
    "sparsity_from_logits",
    "sparsity_index",
    "sstar",
]
