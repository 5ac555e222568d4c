"""The Hurley–Rickard sparsity axioms: what each measure claims, and a property harness. Chapter: sparsity-measures.

The axioms (Hurley & Rickard, "Comparing measures of sparsity", stated as in the post, for S where
*smaller means sparser*; for a measure whose sparse end is high, flip every inequality):
D1 Robin Hood (moving alpha < (x_i - x_j)/2 from x_i > x_j to x_j raises S), D2 scaling
(S(a x) = S(x)), D3 rising tide (S(x + a) > S(x) for non-constant x), D4 cloning (S(x o x) = S(x),
o = concatenation), P1 Bill Gates (once x_i is large enough, growing it lowers S, provided some
other entry is nonzero), P2 babies (S(x o [0]) < S(x)). Verdicts: "holds" (strictly), "weak"
(never violated, but ties where the axiom wants a strict change), "fails" (violated).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import _checks
from .measures import KINDS, _params, sparsity, sstar

AXIOMS = ("D1", "D2", "D3", "D4", "P1", "P2")


def sparse_end(kind: str) -> str:
    """Where ``kind`` is sparse: "low" (small = sparse, the post's convention) or "high".

    Chapter: sparsity-measures (via claimed_axioms, check_axioms).
    """
    _checks.choice("kind", kind, KINDS)
    return "high" if kind in ("hoyer", "gini") else "low"


def claimed_axioms(kind: str, **params: float) -> dict[str, str]:
    """The verdict ("holds", "weak", "fails") each docstring claims per axiom. Chapter: sparsity-measures."""
    prm = _params(kind, params)
    out = dict.fromkeys(AXIOMS, "holds")
    p, q, a = prm.get("p"), prm.get("q"), prm.get("a")
    if kind == "s0" or (kind == "s1p" and p == math.inf) or (kind == "renyi" and a == math.inf):
        out["D1"] = "weak"  # all three are S0
    elif kind == "s1p":
        out["D4"] = "fails"
    elif kind == "sstar" and not q <= 1 <= p:
        out["D1"] = "fails"
    elif kind == "sstar" and p == math.inf and q == 1:
        out["D1"] = "weak"
    elif kind == "hoyer":
        out.update(D4="fails", P2="weak")
    elif kind in ("renyi", "count") and a == 0:
        out.update(D1="weak", D3="weak", P1="weak")
    if kind == "count":
        out.update(D4="fails", P2="weak")
    return out


def _samples(batch: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """(batch, n) non-negative test rows from seven families (row r from family r % 7), none all-zero."""
    f64 = {"generator": gen, "dtype": torch.float64}
    u = torch.rand(batch, n, **f64)
    one = torch.zeros(batch, n, dtype=torch.float64)
    one[torch.arange(batch), torch.randint(0, n, (batch,), generator=gen)] = 1.0
    crowd = torch.exp(0.3 * torch.randn(batch, n, **f64))  # (batch, n)
    giant = 10 ** (1 + 3 * torch.rand(batch, 1, **f64))  # (batch, 1)
    crowd[:, :2] = giant * torch.cat([torch.ones_like(giant), 0.3 + 0.6 * torch.rand(batch, 1, **f64)], 1)
    families = [
        0.01 + u,  # the spec's uniform rows
        torch.exp(1.5 * torch.randn(batch, n, **f64)),  # log-normal spread
        u * (torch.rand(batch, n, generator=gen) < 0.5) + one * u,  # zeros
        u + 100 * one,  # one dominant entry
        torch.randint(0, 4, (batch, n), generator=gen).double() + one,  # ties
        crowd[:, torch.randperm(n, generator=gen)],  # two giants and a crowd
        one * (0.5 + u),  # a single nonzero entry
    ]
    rows = torch.arange(batch)
    return torch.stack(families)[rows % len(families), rows]


def _transfer(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Robin Hood moves on rows (B, n): kept rows and moved rows. Pairs: random, top two, bottom two, max-min."""
    batch, n = x.shape
    rows = torch.arange(batch)
    order = x.argsort(-1, descending=True)
    pick = torch.rand(batch, n, generator=gen).argsort(-1)[:, :2]  # two random distinct positions
    kind = rows % 4
    first = torch.stack([pick[:, 0], order[:, 0], order[:, -2], order[:, 0]], 1)[rows, kind]
    second = torch.stack([pick[:, 1], order[:, 1], order[:, -1], order[:, -1]], 1)[rows, kind]
    swap = x[rows, first] < x[rows, second]
    i, j = torch.where(swap, second, first), torch.where(swap, first, second)  # donor i, receiver j
    gap = x[rows, i] - x[rows, j]
    alpha = (0.05 + 0.9 * torch.rand(batch, generator=gen, dtype=x.dtype)) * gap / 2  # 0 < alpha < gap / 2
    y = x.clone()
    y[rows, i] -= alpha
    y[rows, j] += alpha
    keep = gap >= 1e-2 * x.amax(-1)
    return x[keep], y[keep]


def _bill_gates(fn: Callable, x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows whose other entries are not all zero, and per row the best (over a ladder of beta_i) worst step.

    A step is the relative fall of the oriented measure as x_i grows through (1, 1.5, 3, 10) * beta_i;
    a row has P1 if some rung of beta_i = 10^k n max(x), k = 1..10, makes every step a fall.
    """
    batch, n = x.shape
    i = torch.randint(0, n, (batch,), generator=gen)[:, None]
    others = x.scatter(1, i, 0.0)
    keep = others.amax(-1) >= 1e-2 * x.amax(-1)
    x, i, others = x[keep], i[keep], others[keep]
    best = torch.full((len(x),), -math.inf, dtype=x.dtype)
    for rung in range(1, 11):
        beta = 10.0**rung * n * x.amax(-1, keepdim=True)  # (B, 1)
        vals = torch.stack([fn(others.scatter(1, i, beta * t)) for t in (1.0, 1.5, 3.0, 10.0)])  # (4, B)
        steps = (vals[:-1] - vals[1:]) / vals.abs().amax(0).clamp_min(1e-300)
        best = torch.maximum(best, steps.amin(0))
    return x, best


def _changes(axiom: str, fn: Callable, x: torch.Tensor, gen: torch.Generator) -> tuple:
    """(rows, transformed rows or None, relative change of the oriented measure: > 0 is the axiom's way)."""
    if axiom == "P1":
        x, best = _bill_gates(fn, x, gen)
        return x, None, best
    if axiom == "D1":
        x, y = _transfer(x, gen)
    elif axiom == "D2":
        y = x * 10 ** (6 * torch.rand(len(x), 1, generator=gen, dtype=x.dtype) - 3)
    elif axiom == "D3":
        x = x[x.amax(-1) - x.amin(-1) >= 1e-2 * x.amax(-1)]  # non-constant, robustly
        y = x + (0.05 + 2 * torch.rand(len(x), 1, generator=gen, dtype=x.dtype)) * x.amax(-1, keepdim=True)
    elif axiom == "D4":
        x, y = torch.cat([x, x]), None  # x o x for the first copy, x o x o x for the second
    else:
        y = torch.cat([x, torch.zeros_like(x[:, :1])], 1)  # P2
    vx = fn(x)
    if axiom == "D4":
        half = len(x) // 2
        vy = torch.cat([fn(x[:half].repeat(1, 2)), fn(x[:half].repeat(1, 3))])
    else:
        vy = fn(y)
    rel = (vy - vx) / torch.maximum(vx.abs(), vy.abs()).clamp_min(1e-300)
    if axiom in ("D2", "D4"):  # equalities: within 1e-9, else a violation of its size
        return x, y, torch.where(rel.abs() <= 1e-9, 1.0, -rel.abs())
    return x, y, -rel if axiom == "P2" else rel


def check_axiom(
    measure: str | Callable[[torch.Tensor], torch.Tensor],
    axiom: str,
    *,
    seed: int = 0,
    batch: int = 70,
    lengths: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 12, 16, 24, 32),
    high: bool | None = None,
    **params: float,
) -> tuple[str, tuple[torch.Tensor, torch.Tensor | None] | None]:
    """Property test of one axiom on random rows: ("holds" | "weak" | "fails", example). Chapter: sparsity-measures.

    ``measure`` is a kind of :func:`sparsity` (with ``params``) or a function of rows (B, n) -> (B,);
    ``high=True`` says large values are sparse (default: :func:`sparse_end` of the kind, else low).
    For each length, ``batch`` rows come from seven families (uniform, log-normal, with zeros, one
    dominant entry, ties, two giants in a crowd, one-hot); the example is (x, transformed x) for the
    worst violation, else the first tie, else None. Relative changes within 1e-10 count as ties.
    """
    _checks.choice("axiom", axiom, AXIOMS)
    if isinstance(measure, str):
        high = sparse_end(measure) == "high" if high is None else high
        prm = _params(measure, params)
        fn = lambda rows: sparsity(rows, measure, -1, **prm)  # noqa: E731
    elif callable(measure):
        if params:
            raise ValueError("params apply to a kind of sparsity(); bind them into the function instead")
        fn = measure
    else:
        raise ValueError(f"measure must be a kind in {KINDS} or a function of rows, got {measure!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    _checks.positive_int("batch", batch)
    if not lengths or any(isinstance(n, bool) or not isinstance(n, int) or n < 2 for n in lengths):
        raise ValueError(f"lengths must be ints >= 2 (a transfer needs two entries), got {lengths!r}")
    sign = -1.0 if high else 1.0
    gen, tol, found = torch.Generator().manual_seed(seed), 1e-10, []
    for n in lengths:
        x, y, change = _changes(axiom, lambda rows: sign * fn(rows), _samples(batch, n, gen), gen)
        if len(change) and float(change.min()) < -tol:
            row = int(change.argmin())
            found.append(("fails", float(change.min()), x[row], None if y is None else y[row]))
        elif bool((change.abs() <= tol).any()):
            row = int((change.abs() <= tol).nonzero()[0])
            found.append(("weak", 0.0, x[row], None if y is None else y[row]))
    if not found:
        return "holds", None
    verdict, _, x_row, y_row = min(found, key=lambda f: (f[0] != "fails", f[1]))
    return verdict, (x_row, y_row)


def check_axioms(measure: str, *, seed: int = 0, **params: float) -> dict[str, str]:
    """Verdict of :func:`check_axiom` for each of the six axioms. Chapter: sparsity-measures."""
    return {axiom: check_axiom(measure, axiom, seed=seed, **params)[0] for axiom in AXIOMS}


def _transfer_change(x: torch.Tensor, frac: torch.Tensor, p: float, q: float) -> torch.Tensor:
    """S*_{q,p}(x after moving frac of the way from x[..., 0] towards x[..., 1]) / S*_{q,p}(x) - 1; x (..., n)."""
    alpha = frac * (x[..., 0] - x[..., 1]) / 2  # (...,)
    y = torch.cat([(x[..., 0] - alpha)[..., None], (x[..., 1] + alpha)[..., None], x[..., 2:]], -1)
    return sstar(y, p=p, q=q) / sstar(x, p=p, q=q) - 1


def robin_hood_paths(q: float, p: float, frac: torch.Tensor) -> dict[str, torch.Tensor]:
    """Relative change of S*_{q,p} along two adversarial Robin Hood transfers. Chapter: sparsity-measures.

    ``frac`` in [0, 1] is the fraction of the way to equality (the move is frac (x_i - x_j) / 2).
    "small pair under a giant": from 1 to 0.5 in (10, 1, 0.5), which S*_{q,p} gets wrong for q > 1;
    "two giants in a crowd": from 1000 to 500 in (1000, 500, 1 x 512), wrong for p < 1.
    """
    prm = _params("sstar", {"p": p, "q": q})
    frac = torch.as_tensor(frac, dtype=torch.float64)
    if not bool(((frac >= 0) & (frac <= 1)).all()):
        raise ValueError("frac must lie in [0, 1] (the fraction of the way to equality)")
    small = torch.tensor([1.0, 0.5, 10.0], dtype=torch.float64)
    giants = torch.cat([torch.tensor([1000.0, 500.0], dtype=torch.float64), torch.ones(512, dtype=torch.float64)])
    return {
        "small pair under a giant": _transfer_change(small.expand(len(frac), 3), frac, prm["p"], prm["q"]),
        "two giants in a crowd": _transfer_change(giants.expand(len(frac), 514), frac, prm["p"], prm["q"]),
    }


def robin_hood_worst(q: float, p: float) -> float:
    """Worst relative change of S*_{q,p} over a family of adversarial Robin Hood moves. Chapter: sparsity-measures.

    Moves 0.2 from 1 to 0.5 in (M, 1, 0.5), M = 10, 100, 1000, and 0.1 m from m to m/2 in
    (m, m/2, 1, ..., 1), m = 10 ... 1e6, with 8 to 4096 ones. D1 wants every change > 0.
    """
    prm = _params("sstar", {"p": p, "q": q})
    f64 = torch.float64
    small = torch.tensor([[1.0, 0.5, 10.0], [1.0, 0.5, 100.0], [1.0, 0.5, 1000.0]], dtype=f64)
    worst = float(_transfer_change(small, torch.tensor(0.8, dtype=f64), prm["p"], prm["q"]).min())
    m = 10.0 ** torch.arange(1, 7, dtype=f64)[:, None]  # (6, 1)
    for k in (8, 64, 512, 4096):
        x = torch.cat([m, m / 2, torch.ones(6, k, dtype=f64)], 1)  # (6, k + 2)
        worst = min(worst, float(_transfer_change(x, torch.tensor(0.4, dtype=f64), prm["p"], prm["q"]).min()))
    return worst
