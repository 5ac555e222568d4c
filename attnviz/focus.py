"""The module of post 9889 under its first name; it now lives in :mod:`attnviz.sparsity_limits`.

Kept so that ``from attnviz.focus import sparsity_limit`` (chapters, readers' code) keeps working.
"""

from .sparsity import sparsity_index, sstar
from .sparsity_limits import FOCUS_FUNCTIONS, decay_sparsity, linear_sparsity_limit, row_sparsity, sparsity_limit

__all__ = [
    "FOCUS_FUNCTIONS",
    "decay_sparsity",
    "linear_sparsity_limit",
    "row_sparsity",
    "sparsity_index",
    "sparsity_limit",
    "sstar",
]
