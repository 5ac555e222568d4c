"""symbolic: exact rotation identities, the two RoPE layouts, and agreement with the numeric RoPE of positions."""

import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
import torch

from attnviz import symbolic
from attnviz.positions import apply_rope, interleaved_to_half, rope_frequencies, rotation_matrix

m, n, t = sp.symbols("m n t", real=True)
THETAS = sp.symbols("theta0:3", positive=True)


def test_rotation_is_the_2x2_rotation():
    assert symbolic.rotation(sp.pi / 2) == sp.Matrix([[0, -1], [1, 0]])
    assert symbolic.rotation(0) == sp.eye(2)
    assert sp.simplify(symbolic.rotation(t).det()) == 1


@pytest.mark.parametrize("layout", symbolic.LAYOUTS)
def test_relative_position_identity(layout):
    r_m, r_n = symbolic.rope_matrix(m, THETAS, layout), symbolic.rope_matrix(n, THETAS, layout)
    assert r_m.shape == (6, 6)
    assert sp.simplify(r_m.T * r_n - symbolic.rope_matrix(n - m, THETAS, layout)) == sp.zeros(6, 6)
    assert sp.simplify(r_m.T * r_m) == sp.eye(6)


def test_rotation_composes():
    assert sp.simplify(symbolic.rotation(m).T * symbolic.rotation(n) - symbolic.rotation(n - m)) == sp.zeros(2, 2)


def test_half_layout_is_the_permuted_interleaved_one():
    p = symbolic.half_permutation(6)
    r_int, r_half = symbolic.rope_matrix(m, THETAS), symbolic.rope_matrix(m, THETAS, "half")
    assert r_int != r_half
    assert sp.simplify(p * r_int * p.T - r_half) == sp.zeros(6, 6)
    assert p * p.T == sp.eye(6)
    x = sp.Matrix(sp.symbols("x0:6"))
    perm = interleaved_to_half(6).tolist()  # positions: x_half = x[perm]
    assert p * x == sp.Matrix([x[i] for i in perm])


@pytest.mark.parametrize("position", [0, 3, -7, 1000])
def test_numeric_agreement_with_positions(position):
    freqs = rope_frequencies(8)  # (4,) float64
    thetas = [sp.Float(f, 30) for f in freqs.tolist()]
    interleaved = torch.tensor(sp.N(symbolic.rope_matrix(position, thetas), 20).tolist(), dtype=torch.float64)
    assert torch.allclose(interleaved, rotation_matrix(position, freqs), atol=1e-12, rtol=0)
    half = torch.tensor(sp.N(symbolic.rope_matrix(position, thetas, "half"), 20).tolist(), dtype=torch.float64)
    rotated_basis = apply_rope(torch.eye(8, dtype=torch.float64), torch.full((8,), float(position)), freqs, "half")
    assert torch.allclose(half, rotated_basis.T, atol=1e-12, rtol=0)  # row i of apply_rope(I) is R e_i


def test_importing_symbolic_loads_no_torch_or_matplotlib():
    path = Path(symbolic.__file__)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('symbolic_alone', {str(path)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(sorted(m for m in ('torch', 'matplotlib', 'ipywidgets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import sys, attnviz.symbolic\nprint(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # through the package too: no plotting


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: symbolic.rope_matrix(m, []), "thetas must be a non-empty sequence"),
        (lambda: symbolic.rope_matrix(m, "theta"), "thetas must be a non-empty sequence"),
        (lambda: symbolic.rope_matrix(m, THETAS, layout="neox"), "layout must be one of"),
        (lambda: symbolic.rope_matrix(object(), THETAS), "position must be a number or a sympy expression"),
        (lambda: symbolic.rope_matrix(m, [THETAS[0], "x"]), r"thetas\[1\] must be"),
        (lambda: symbolic.rotation(sp.Matrix([1, 2])), "t must be a scalar"),
        (lambda: symbolic.half_permutation(5), "d must be an even int"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
