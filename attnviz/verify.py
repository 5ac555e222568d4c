"""The chapters' check idiom as one call: measure a deviation, print it against its tolerance, assert.

Every check prints one line, ``label: max |Δ| = 3.6e-15 ≤ 1e-12``, and raises ``AssertionError``
(showing measured, expected and tolerance) when the deviation is above the tolerance. The tolerance
is written once, in the call. Comparisons run in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from numbers import Real

import torch

from . import _checks

F64 = torch.float64  # the dtype of every check in the book


def gen(seed: int) -> torch.Generator:
    """A CPU torch.Generator seeded with ``seed`` (one per random cell). Chapter: sparsity-measures."""
    return torch.Generator().manual_seed(_checks.seed(seed))


def _sci(x: float, digits: int | None = None) -> str:
    """Short form of a number: 0.5, 1e-12, 5e-4 (shortest exact, for tolerances) or 3.6e-15 (``digits`` = 2)."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)  # nan, inf
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}g}" if digits else f"{x:g}"
    for places in range(4) if digits is None else [digits - 1]:
        mantissa, exponent = f"{x:.{places}e}".split("e")
        if digits or float(f"{mantissa}e{exponent}") == x:
            break
    return f"{mantissa}e{int(exponent)}"


def _as_f64(name: str, x: object) -> torch.Tensor:
    """``x`` (tensor, number or nested sequence of numbers) as a float64 tensor."""
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ValueError(f"{name} must be real, got dtype {x.dtype}")
        return x.detach().to(device="cpu", dtype=F64)
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be a tensor or real number(s), got a string")
    if isinstance(x, (Sequence, Real)):
        try:
            return torch.as_tensor(x, dtype=F64)
        except (TypeError, ValueError, RuntimeError):
            pass
    try:  # numbers that only know float(), e.g. a sympy Float or a numpy scalar
        return torch.tensor(float(x), dtype=F64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a tensor or real number(s), got {type(x).__name__}") from None


def _tolerance(name: str, tol: object) -> float:
    if isinstance(tol, bool) or not isinstance(tol, Real) or not math.isfinite(tol) or tol < 0:
        raise ValueError(f"{name} must be a finite real number >= 0, got {tol!r}")
    return float(tol)


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index of element ``flat`` of a row-major array of ``shape`` (torch.unravel_index needs torch 2.2)."""
    index = []
    for size in reversed(shape):
        flat, i = divmod(flat, size)
        index.append(i)
    return tuple(reversed(index))


def _bound_text(atol: float, rtol: float) -> str:
    if rtol == 0:
        return _sci(atol)
    return f"{_sci(rtol)}·|want|" if atol == 0 else f"{_sci(atol)} + {_sci(rtol)}·|want|"


def close(label: str, got: object, want: object, *, atol: float, rtol: float = 0.0) -> None:
    """Print max |got - want| and assert |got - want| <= atol + rtol |want| everywhere. Chapter: rope-rotation."""
    atol, rtol = _tolerance("atol", atol), _tolerance("rtol", rtol)
    got_t, want_t = _as_f64("got", got), _as_f64("want", want)
    if want_t.dim() and got_t.shape != want_t.shape:
        raise ValueError(f"got and want must have the same shape, got {tuple(got_t.shape)} and {tuple(want_t.shape)}")
    want_t = want_t.expand_as(got_t)
    gap = torch.where(got_t == want_t, 0.0, (got_t - want_t).abs())  # equal infinities agree; nan stays nan
    bound = atol + rtol * want_t.abs() if rtol else torch.full_like(gap, atol)  # no 0 * inf
    excess = (gap - bound).nan_to_num(nan=math.inf)  # > 0 where the check fails; nan fails
    deviation = gap.max().item() if gap.numel() else 0.0
    if gap.isnan().any():
        deviation = math.nan
    text = f"{label}: max |Δ| = {_sci(deviation, 2)}"
    if gap.numel() and bool((excess > 0).any()):
        worst = int(excess.flatten().argmax())
        index = _unravel(worst, tuple(got_t.shape))
        where = f" at index {index}" if got_t.dim() else ""
        at_got, at_want = got_t.flatten()[worst].item(), want_t.flatten()[worst].item()
        raise AssertionError(
            f"{text} > {_bound_text(atol, rtol)}{where}: measured {at_got!r}, expected {at_want!r}"
            f" (atol {_sci(atol)}, rtol {_sci(rtol)})"
        )
    print(f"{text} ≤ {_bound_text(atol, rtol)}")


def _digits(measured: float, quoted: float, tol: float) -> int:
    """Significant digits that show ``quoted`` as written and ``measured`` down to a tenth of ``tol``."""
    shown = len(repr(quoted).split("e")[0].replace("-", "").replace(".", "").lstrip("0")) if quoted else 1
    needed = 6
    if measured and math.isfinite(measured) and tol > 0:
        needed = math.floor(math.log10(abs(measured))) - math.floor(math.log10(tol)) + 2
    return max(6, shown, min(needed, 17))


def value(label: str, got: object, expected: float, tol: float) -> None:
    """Print a measured value against a quoted one, assert |got - expected| <= tol. Chapter: train-short-test-long."""
    tol = _tolerance("tol", tol)
    got_t, expected_t = _as_f64("got", got), _as_f64("expected", expected)
    if got_t.numel() != 1 or expected_t.numel() != 1:
        shapes = f"{tuple(got_t.shape)} and {tuple(expected_t.shape)}"
        raise ValueError(f"got and expected must be single numbers, got shapes {shapes}")
    measured, quoted = got_t.item(), expected_t.item()
    deviation = abs(measured - quoted)
    digits = _digits(measured, quoted, tol) if math.isfinite(deviation) else 6
    text = f"{label}: {measured:.{digits}g} vs {quoted!r}, |Δ| = {_sci(deviation, 2)}"
    if not deviation <= tol:  # also catches nan
        raise AssertionError(f"{text} > {_sci(tol)}: measured {measured!r}, expected {quoted!r}, tolerance {_sci(tol)}")
    print(f"{text} ≤ {_sci(tol)}")


def _rows(quoted: Mapping | Sequence) -> list[tuple[tuple, float]]:
    """(key, value) pairs of a quoted table: a mapping key -> value or rows (*key, value)."""
    if isinstance(quoted, Mapping):
        items = [(key if isinstance(key, tuple) else (key,), val) for key, val in quoted.items()]
    elif isinstance(quoted, Sequence) and not isinstance(quoted, str):
        if not all(isinstance(row, Sequence) and len(row) >= 2 for row in quoted):
            raise ValueError("quoted rows must be tuples (*key, value) with at least one key field")
        items = [(tuple(row[:-1]), row[-1]) for row in quoted]
    else:
        kind = type(quoted).__name__
        raise ValueError(f"quoted must be a mapping key -> value or a sequence of (*key, value), got {kind}")
    if not items:
        raise ValueError("quoted must hold at least one number")
    return items


def check_quoted(lookup: Callable[..., object], quoted: Mapping | Sequence, tol: float) -> None:
    """Assert lookup(*key) is within tol of each quoted (*key, value) or {key: value} Chapter: train-short-test-long."""
    tol = _tolerance("tol", tol)
    if not callable(lookup):
        raise ValueError(f"lookup must be callable as lookup(*key), got {type(lookup).__name__}")
    worst, failures = 0.0, []
    for key, quoted_value in _rows(quoted):
        measured, expected = _as_f64("lookup result", lookup(*key)).item(), _as_f64("quoted value", quoted_value).item()
        deviation = abs(measured - expected)
        if not deviation <= tol:
            failures.append(f"  {key}: measured {measured:.6g}, quoted {expected:.6g}, |Δ| = {_sci(deviation, 2)}")
        worst = max(worst, deviation) if math.isfinite(deviation) else math.inf
    count = len(_rows(quoted))
    if failures:
        head = f"{len(failures)} of {count} quoted numbers off by more than {_sci(tol)}:\n"
        raise AssertionError(head + "\n".join(failures))
    print(f"{count} quoted numbers match: max |Δ| = {_sci(worst, 2)} ≤ {_sci(tol)}")
