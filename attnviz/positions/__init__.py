"""Position encodings: absolute tables, RoPE, its scaled schedules, ReRoPE, relative biases (ALiBi, KERPLE,
Sandwich, XPOS) and random position training.

``from attnviz.positions import apply_rope`` keeps working: every name lives in a concept module
(:mod:`.absolute`, :mod:`.rope`, :mod:`.scaling`, :mod:`.rerope`, :mod:`.relative`, :mod:`.sampling` for random
position training, :mod:`.rope2d` for 2-D RoPE and mixed text/image positions, :mod:`.survey` for T5's buckets,
clipped relative positions and hierarchical absolute positions) and is re-exported here.
"""

from .absolute import sinusoidal
from .relative import (
    KERPLE_KINDS,
    alibi_bias,
    alibi_slopes,
    kerple_bias,
    sandwich_bias,
    sandwich_concat,
    xpos_logits,
    xpos_overflow_position,
    xpos_scale,
)
from .rerope import rerope_positions, rerope_scores
from .rope import LAYOUTS, apply_rope, interleaved_to_half, rope_angles, rope_decay, rotation_matrix
from .rope2d import apply_rope_2d, image_span, rope_tie_positions, rotation_matrix_2d
from .sampling import (
    equal_mean_length_moments,
    equal_mean_lengths,
    equal_mean_positions,
    expected_sorted_positions,
    grid_positions,
    random_positions,
)
from .scaling import RAMPS, SCALINGS, angle_overshoot, beta_digits, rope_frequencies, yarn_logit_scale
from .survey import clipped_relative, hierarchical_positions, t5_bias_table, t5_bucket

__all__ = [
    "KERPLE_KINDS",
    "LAYOUTS",
    "RAMPS",
    "SCALINGS",
    "alibi_bias",
    "alibi_slopes",
    "angle_overshoot",
    "apply_rope",
    "apply_rope_2d",
    "beta_digits",
    "clipped_relative",
    "equal_mean_length_moments",
    "equal_mean_lengths",
    "equal_mean_positions",
    "expected_sorted_positions",
    "grid_positions",
    "hierarchical_positions",
    "image_span",
    "interleaved_to_half",
    "kerple_bias",
    "random_positions",
    "rerope_positions",
    "rerope_scores",
    "rope_angles",
    "rope_decay",
    "rope_frequencies",
    "rope_tie_positions",
    "rotation_matrix",
    "rotation_matrix_2d",
    "sandwich_bias",
    "sandwich_concat",
    "sinusoidal",
    "t5_bias_table",
    "t5_bucket",
    "xpos_logits",
    "xpos_overflow_position",
    "xpos_scale",
    "yarn_logit_scale",
]
