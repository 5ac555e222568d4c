"""verify: each check prints measured against tolerance, passes at the tolerance and fails just above it."""

import math

import pytest
import sympy as sp
import torch

from attnviz import verify


def test_close_prints_the_deviation_and_its_tolerance(capsys):
    want = torch.ones(3, 4, dtype=torch.float64)
    got = want.clone()
    got[1, 2] += 2.0**-48  # 3.55e-15
    assert verify.close("elementwise vs matrix", got, want, atol=1e-12) is None  # nothing echoed below a cell
    assert capsys.readouterr().out == "elementwise vs matrix: max |Δ| = 3.6e-15 ≤ 1e-12\n"
    verify.close("exact", 0.25, 0.25, atol=5e-4)
    assert capsys.readouterr().out == "exact: max |Δ| = 0 ≤ 5e-4\n"


def test_close_fails_just_above_the_tolerance():
    want = torch.zeros(2, 3, dtype=torch.float64)
    at_tol, above = want.clone(), want.clone()
    at_tol[0, 1], above[1, 2] = 0.5, 0.5 + 1e-9
    verify.close("at the tolerance", at_tol, want, atol=0.5)
    with pytest.raises(AssertionError) as failure:
        verify.close("just above", above, want, atol=0.5)
    message = str(failure.value)
    assert "just above" in message and "> 0.5" in message and "(1, 2)" in message
    assert "measured 0.500000001" in message and "expected 0.0" in message


def test_close_relative_tolerance():
    verify.close("relative", torch.tensor([1000.5, 1.0]), torch.tensor([1000.0, 1.0]), atol=0.0, rtol=1e-3)
    with pytest.raises(AssertionError, match=r"max \|Δ\| = 0.5 > 1e-4·\|want\|"):
        verify.close("relative", torch.tensor([1000.5, 1.0]), torch.tensor([1000.0, 1.0]), atol=0.0, rtol=1e-4)


def test_close_compares_in_float64_and_accepts_numbers(capsys):
    got = torch.tensor(0.1, dtype=torch.float32)  # 0.1 rounded to float32
    verify.close("float32", got, 0.1, atol=1e-8)  # |float32(0.1) - 0.1| = 1.49e-9
    assert "max |Δ| = 1.5e-9 ≤ 1e-8" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        verify.close("float32", got, 0.1, atol=1e-9)
    verify.close("sympy float", sp.Float("0.125"), 0.125, atol=0.0)
    verify.close("list vs tensor", [1.0, 2.0], torch.tensor([1.0, 2.0]), atol=0.0)
    verify.close("scalar want", torch.full((5,), 2.0), 2.0, atol=0.0)


def test_close_never_passes_nan_and_accepts_equal_infinities():
    with pytest.raises(AssertionError, match="nan"):
        verify.close("nan", torch.tensor([1.0, math.nan]), torch.tensor([1.0, 1.0]), atol=1e9)
    verify.close("inf", [math.inf, 1.0], [math.inf, 1.0], atol=0.0)
    with pytest.raises(AssertionError):
        verify.close("inf", [math.inf, 1.0], [-math.inf, 1.0], atol=1e9)


def test_value_against_a_quoted_number(capsys):
    verify.value("accuracy at 512", 0.4401, 0.440, 5e-4)
    assert capsys.readouterr().out == "accuracy at 512: 0.4401 vs 0.44, |Δ| = 1.0e-4 ≤ 5e-4\n"
    # a quoted number keeps every digit it was written with, and the measured one shows a tenth of the tolerance
    verify.value("lambda", 1.0330288, 1.03303, 2e-6)
    assert capsys.readouterr().out == "lambda: 1.0330288 vs 1.03303, |Δ| = 1.2e-6 ≤ 2e-6\n"
    verify.value("F(1)", 16.719871, 16.71987, 6e-4)
    assert capsys.readouterr().out == "F(1): 16.71987 vs 16.71987, |Δ| = 1.0e-6 ≤ 6e-4\n"
    with pytest.raises(AssertionError, match="measured 0.4406, expected 0.44, tolerance 5e-4"):
        verify.value("accuracy at 512", 0.4406, 0.440, 5e-4)


def test_check_quoted_rows_and_mapping(capsys):
    table = {("a", 64): 0.5, ("b", 128): 0.25}
    rows = [("a", 64, 0.5004), ("b", 128, 0.2497)]
    calls = []

    def lookup(name, n):
        calls.append((name, n))
        return table[(name, n)]

    verify.check_quoted(lookup, rows, 5e-4)
    assert calls == [("a", 64), ("b", 128)]
    assert capsys.readouterr().out == "2 quoted numbers match: max |Δ| = 4.0e-4 ≤ 5e-4\n"
    verify.check_quoted(lambda name: {"x": 1.0}[name], {"x": 1.0}, 0.0)  # a plain key
    with pytest.raises(AssertionError, match=r"1 of 2 quoted numbers off by more than 3e-4:\n  \('a', 64\)"):
        verify.check_quoted(lookup, rows, 3e-4)


def test_gen_is_seeded():
    a = torch.rand(4, generator=verify.gen(3))
    assert torch.equal(a, torch.rand(4, generator=verify.gen(3)))
    assert not torch.equal(a, torch.rand(4, generator=verify.gen(4)))
    assert verify.F64 is torch.float64


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: verify.close("x", 1.0, 1.0, atol=-1e-12), "atol must be a finite real number >= 0"),
        (lambda: verify.close("x", 1.0, 1.0, atol=1e-12, rtol=math.nan), "rtol must be"),
        (lambda: verify.close("x", torch.ones(3), torch.ones(2), atol=0), "same shape"),
        (lambda: verify.close("x", "1.0", 1.0, atol=0), "got must be a tensor or real number"),
        (lambda: verify.value("x", torch.ones(2), 1.0, 0.1), "single numbers"),
        (lambda: verify.value("x", 1.0, 1.0, tol=None), "tol must be"),
        (lambda: verify.check_quoted(lambda: 0, [], 0.1), "at least one number"),
        (lambda: verify.check_quoted(lambda: 0, [(1.0,)], 0.1), r"tuples \(\*key, value\)"),
        (lambda: verify.check_quoted(3, {"a": 1}, 0.1), "lookup must be callable"),
        (lambda: verify.gen(-1), "seed must be an int >= 0"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
