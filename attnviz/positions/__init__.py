"""Position encodings: absolute tables, RoPE, its scaled schedules, ReRoPE and relative biases.

``from attnviz.positions import apply_rope`` keeps working: every name lives in a concept module
(:mod:`.absolute`, :mod:`.rope`, :mod:`.scaling`, :mod:`.rerope`, :mod:`.relative`, :mod:`.sampling` for random
position training) and is re-exported here.
"""

from .absolute import sinusoidal
from .relative import alibi_bias, alibi_slopes
from .rerope import rerope_positions, rerope_scores
from .rope import LAYOUTS, apply_rope, interleaved_to_half, rope_angles, rope_decay, rotation_matrix
from .sampling import (
    equal_mean_length_moments,
    equal_mean_lengths,
    equal_mean_positions,
    expected_sorted_positions,
    grid_positions,
    random_positions,
)
from .scaling import RAMPS, SCALINGS, angle_overshoot, beta_digits, rope_frequencies, yarn_logit_scale

__all__ = [
    "LAYOUTS",
    "RAMPS",
    "SCALINGS",
    "alibi_bias",
    "alibi_slopes",
    "angle_overshoot",
    "apply_rope",
    "beta_digits",
    "equal_mean_length_moments",
    "equal_mean_lengths",
    "equal_mean_positions",
    "expected_sorted_positions",
    "grid_positions",
    "interleaved_to_half",
    "random_positions",
    "rerope_positions",
    "rerope_scores",
    "rope_angles",
    "rope_decay",
    "rope_frequencies",
    "rotation_matrix",
    "sinusoidal",
    "yarn_logit_scale",
]
