"""Sparsity measures of post 9595 and the Hurley–Rickard axioms they satisfy. Chapter: sparsity-measures.

Every measure reads the magnitudes |x| along ``dim`` (signed input is allowed; only sizes matter)
and is scale invariant, so rows are divided by their largest magnitude first (no overflow in
``|x|^p``). Conventions, shared by all measures:

* an all-zero row has no shape to measure: NaN;
* n = 1: the row is both as sparse and as dense as a row can be; each docstring gives the value;
* NaN or +-inf in ``x`` is a ValueError; logits (:func:`sparsity_from_logits`) take -inf as a
  masked key, and then n counts the unmasked keys only.

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

from . import _checks
from . import metrics as _metrics  # metrics may import this module at its end: only used at call time

AXIOMS = ("D1", "D2", "D3", "D4", "P1", "P2")
KINDS = ("s0", "s1p", "sstar", "hoyer", "gini", "entropy", "renyi", "count")
_PARAMS = {"s1p": ("p",), "sstar": ("p", "q"), "renyi": ("a",), "count": ("a",)}
_DEFAULTS = {"p": 2.0, "q": 1.0, "a": 2.0}


# ---------------------------------------------------------------- argument handling


def _dim(x: torch.Tensor, dim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise ValueError(f"dim must be an int, got {dim!r}")
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim must lie in [{-x.dim()}, {x.dim() - 1}] for a {x.dim()}-d tensor, got {dim}")
    if x.shape[dim] == 0:
        raise ValueError(f"x must have at least one entry along dim={dim}")
    return dim


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    real = x.abs().dtype if x.is_complex() else x.dtype
    return torch.float32 if real in (torch.float16, torch.bfloat16) else real


def _order(name: str, value: object, *, low: float) -> float:
    """A power or Rényi order: a real number (or math.inf) above ``low``."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a real number (math.inf allowed), got {value!r}")
    value = float(value)
    if value <= low or value == -math.inf:
        raise ValueError(f"{name} must be > {low:g}, got {value:g}")
    return value


def _params(kind: str, params: dict) -> dict:
    _checks.choice("kind", kind, KINDS)
    allowed = _PARAMS.get(kind, ())
    for key in params:
        if key not in allowed:
            raise ValueError(f"kind={kind!r} takes {allowed or 'no parameters'}, got {key}=")
    out = {key: params.get(key, _DEFAULTS[key]) for key in allowed}
    if kind == "s1p":
        out["p"] = _order("p", out["p"], low=1.0)
    if kind == "sstar":
        out["q"] = _order("q", out["q"], low=0.0)
        if out["q"] == math.inf:
            raise ValueError("q must be finite")
        out["p"] = _order("p", out["p"], low=out["q"])
    if kind in ("renyi", "count"):
        if isinstance(out["a"], (int, float)) and not isinstance(out["a"], bool) and out["a"] == 0:
            out["a"] = 0.0
        else:
            out["a"] = _order("a", out["a"], low=0.0)
    return out


def _prepare(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(|x| / max|x| moved to the last axis, n per row, nonzero-row mask) for a finite x."""
    _checks.tensor("x", x)
    _checks.finite("x", x)
    dim = _dim(x, dim)
    a = x.movedim(dim, -1).abs().to(_work_dtype(x))  # (..., n)
    peak = a.amax(-1, keepdim=True)
    a = a / torch.where(peak > 0, peak, 1)
    n = torch.full(a.shape[:-1], float(a.shape[-1]), dtype=a.dtype, device=a.device)
    return a, n, peak[..., 0] > 0


# ---------------------------------------------------------------- measures on prepared rows


def _norm(a: torch.Tensor, p: float) -> torch.Tensor:
    return a.amax(-1) if p == math.inf else a.pow(p).sum(-1).pow(1 / p)


def _log_sum_pow(prob: torch.Tensor, a: float) -> torch.Tensor:
    """log sum_j prob_j^a over the nonzero entries (a > 0), without underflow."""
    log_p = torch.where(prob > 0, torch.log(torch.where(prob > 0, prob, 1)), -math.inf)
    return torch.logsumexp(a * log_p, -1)


def _renyi_rows(prob: torch.Tensor, a: float) -> torch.Tensor:
    """Rényi entropy of order a of probability rows prob (..., n); masked keys are zeros."""
    if a == 1:
        return _metrics.entropy(prob, -1)
    if a == math.inf:
        return -torch.log(prob.amax(-1)) + 0.0
    if a == 0:
        return torch.log((prob > 0).sum(-1).to(prob.dtype))
    return _log_sum_pow(prob, a) / (1 - a) + 0.0  # + 0.0: one-hot rows give 0, not -0


def _core(kind: str, a: torch.Tensor, n: torch.Tensor, prm: dict) -> torch.Tensor:
    l1 = a.sum(-1)
    if kind == "s0":
        return l1 / n / a.amax(-1)
    if kind == "s1p":
        return l1 / n / _norm(a, prm["p"])
    if kind == "sstar":
        p, q = prm["p"], prm["q"]
        return n.pow((0 if p == math.inf else 1 / p) - 1 / q) * _norm(a, q) / _norm(a, p)
    if kind == "hoyer":
        root = n.sqrt()
        return (root - l1 / _norm(a, 2.0)) / (root - 1)
    if kind == "gini":
        c = a.sort(-1, descending=True).values  # masked or zero entries last, where they weigh nothing
        rank = torch.arange(1, a.shape[-1] + 1, dtype=a.dtype, device=a.device)
        return (c * (n[..., None] + 1 - 2 * rank)).sum(-1) / (n * l1)
    prob = a / torch.where(l1 > 0, l1, 1)[..., None]
    prob = torch.where((l1 > 0)[..., None], prob, 1 / a.shape[-1])  # zero rows: a placeholder, NaN later
    order = 1.0 if kind == "entropy" else prm["a"]
    count = _renyi_rows(prob, order).exp()
    return count if kind == "count" else count / n


def _finish(value: torch.Tensor, nonzero: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.where(nonzero, value, math.nan).to(dtype)


# ---------------------------------------------------------------- public measures


def sparsity(x: torch.Tensor, kind: str, dim: int = -1, **params: float) -> torch.Tensor:
    """Sparsity of the rows of x along ``dim`` by measure ``kind`` (one of KINDS). Chapter: sparsity-measures.

    ``kind`` and its parameters: "s0"; "s1p" (p=2); "sstar" (p=2, q=1); "hoyer"; "gini"; "entropy"
    (e^H / n); "renyi" (a=2: e^{H_a} / n); "count" (a=2: e^{H_a}, the participation ratio; a=1 is
    the effective support). Each has its own function with its range, direction and axioms.
    """
    prm = _params(kind, params)
    a, n, nonzero = _prepare(x, dim)
    return _finish(_core(kind, a, n, prm), nonzero, _work_dtype(x) if x.is_complex() else x.dtype)


def s0(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """S0 = mean|x| / max|x| along ``dim``, in [1/n, 1], small = sparse. Chapter: sparsity-measures.

    Axioms: D2, D3, D4, P1, P2 hold; D1 is only weak (a transfer that leaves the maximum alone,
    e.g. from 2 to 0 in (3, 2, 0), leaves S0 unchanged). S0 = S_{1,inf} = S*_{1,inf} = e^{H_inf}/n.
    n = 1 gives 1.
    """
    return sparsity(x, "s0", dim)


def s1p(x: torch.Tensor, p: float = 2.0, dim: int = -1) -> torch.Tensor:
    """S_{1,p} = (l1(x)/n) / l_p(x), p > 1, in [1/n, n^{-1/p}], small = sparse. Chapter: sparsity-measures.

    p = 2 is the l1/l2 index (divided by n); p = inf gives S0. Axioms: D1, D2, D3, P1, P2 hold;
    D4 fails: k clones multiply it by k^{-1/p}. D3 holds, against Hurley–Rickard's classification of
    l1/l2 (the post's proof, checked in the chapter). n = 1 gives 1.
    """
    return sparsity(x, "s1p", dim, p=p)


def sstar(x: torch.Tensor, p: float = 2.0, q: float = 1.0, dim: int = -1) -> torch.Tensor:
    """S*_{q,p} = n^{1/p-1/q} l_q/l_p = M_q(|x|)/M_p(|x|), p > q > 0, in [n^{1/p-1/q}, 1]. Chapter: sparsity-measures.

    A ratio of power means; small = sparse; n^{1/p-1/q} at a one-hot row, 1 at a constant one.
    Axioms: D2, D3, D4, P1, P2 hold for every p > q > 0. D1 holds when q <= 1 <= p (p finite; for
    p = inf, q = 1 it is S0 and D1 is weak) and FAILS otherwise, against the post's "any p > q > 0":
    S*_{2,3} drops when 0.2 moves from 1 to 0.5 in (10, 1, 0.5). S*_{1,2} = cos(sign x, x) when no
    entry is zero. n = 1 gives 1.
    """
    return sparsity(x, "sstar", dim, p=p, q=q)


def hoyer(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Hoyer's (sqrt(n) - l1/l2) / (sqrt(n) - 1), in [0, 1], LARGE = sparse. Chapter: sparsity-measures.

    An n-dependent affine map of S*_{1,2}: sqrt(n) (1 - S*_{1,2}) / (sqrt(n) - 1). Axioms: D1, D2,
    D3, P1 hold; D4 fails (clones change n); P2 is weak: a row with a single nonzero entry has
    Hoyer 1 before and after a zero is appended (strict otherwise). n = 1 gives NaN (0/0).
    """
    return sparsity(x, "hoyer", dim)


def gini(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Gini index of |x| along ``dim``, in [0, 1 - 1/n], LARGE = sparse. Chapter: sparsity-measures.

    Hurley–Rickard's form 1 - 2 sum_k (c_k / l1) (n - k + 1/2) / n with c = |x| sorted ascending;
    equals sum_{i,j} |x_i - x_j| / (2 n l1). Axioms: all six hold. n = 1 gives 0.
    """
    return sparsity(x, "gini", dim)


def entropy_sparsity(x: torch.Tensor, a: float = 1.0, dim: int = -1) -> torch.Tensor:
    """e^{H_a(p)} / n, p = |x| / l1, H_a the Rényi entropy (a=1: Shannon), in [1/n, 1]. Chapter: sparsity-measures.

    Small = sparse. For 0 < a < inf it is a power of a perfect S*: (S*_{1,a})^{a/(a-1)} for a > 1,
    (S*_{a,1})^{a/(1-a)} for a < 1, so all six axioms hold. a = inf gives S0 (D1 weak); a = 0 gives
    the fraction of nonzero entries (D1, D3, P1 only weak). n = 1 gives 1.
    """
    return sparsity(x, "entropy", dim) if a == 1 else sparsity(x, "renyi", dim, a=a)


def effective_count(x: torch.Tensor, a: float = 2.0, dim: int = -1) -> torch.Tensor:
    """e^{H_a(p)}, p = |x|/l1: the effective number of entries, in [1, n], small = sparse. Chapter: sparsity-measures.

    a = 2: the participation ratio 1/sum p^2; a = 1: the effective support e^H of
    :func:`attnviz.metrics.effective_support`. Axioms: D1, D2, D3, P1 hold; D4 fails (k clones
    multiply it by k); P2 is weak (zeros do not count). n = 1 gives 1.
    """
    return sparsity(x, "count", dim, a=a)


# ---------------------------------------------------------------- probabilities and logits


def _check_probabilities(p: torch.Tensor, dim: int) -> int:
    _checks.tensor("p", p)
    _checks.finite("p", p)
    dim = _dim(p, dim)
    if bool((p < 0).any()):
        raise ValueError("p must be non-negative (probabilities); for logits use renyi_from_logits")
    off = float((p.sum(dim) - 1).abs().max())
    if off > max(1e-6, 4 * p.shape[dim] * torch.finfo(p.dtype).eps):
        raise ValueError(f"p must sum to 1 along dim={dim} (worst row is off by {off:.3g})")
    return dim


def renyi(p: torch.Tensor, a: float, dim: int = -1) -> torch.Tensor:
    """Rényi entropy H_a = log(sum p^a) / (1 - a) in nats along ``dim``, a in [0, inf]. Chapter: sparsity-measures.

    a = 1 is Shannon's entropy (:func:`attnviz.metrics.entropy`), a = inf gives -log max p, a = 0
    log |support|. Non-increasing in a, all in [0, log n]. ``p`` must be probabilities.
    """
    a = _params("renyi", {"a": a})["a"]
    dim = _check_probabilities(p, dim)
    return _renyi_rows(p.movedim(dim, -1), a)


def participation_ratio(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """1 / sum p^2 = e^{H_2} along ``dim``: between 1/max p and e^H, in [1, n]. Chapter: sparsity-measures."""
    dim = _check_probabilities(p, dim)
    return 1 / p.pow(2).sum(dim)


def _check_logits(logits: torch.Tensor, dim: int) -> int:
    _checks.tensor("logits", logits)
    dim = _dim(logits, dim)
    if bool(torch.isnan(logits).any()) or bool((logits == math.inf).any()):
        raise ValueError("logits must not contain nan or +inf (-inf marks a masked key)")
    if bool(torch.isneginf(logits).all(dim).any()):
        raise ValueError(f"every entry of some row of logits along dim={dim} is -inf: nothing to attend to")
    return dim


def renyi_from_logits(logits: torch.Tensor, a: float, dim: int = -1) -> torch.Tensor:
    """Rényi entropy H_a in nats of softmax(logits) along ``dim``; -inf = masked key. Chapter: sparsity-measures.

    For a != 1: H_a = (a LSE(s) - LSE(a s)) / (a - 1), stable for large logits; a = 1 is
    :func:`attnviz.metrics.entropy_from_logits`; a = inf: LSE(s) - max s; a = 0: log(unmasked count).
    """
    a = _params("renyi", {"a": a})["a"]
    dim = _check_logits(logits, dim)
    if a == 1:
        return _metrics.entropy_from_logits(logits, dim)
    lse = torch.logsumexp(logits, dim)
    if a == math.inf:
        return lse - logits.amax(dim)
    if a == 0:
        return torch.log((~torch.isneginf(logits)).sum(dim).to(logits.dtype))
    return (a * lse - torch.logsumexp(a * logits, dim)) / (a - 1)


def sparsity_from_logits(logits: torch.Tensor, kind: str, dim: int = -1, **params: float) -> torch.Tensor:
    """sparsity(softmax(logits), kind) with -inf keys masked out: n counts unmasked keys. Chapter: sparsity-measures.

    A causal row i is measured as a distribution over its i + 1 visible keys, not over n keys with
    zeros (which P2 would count as sparser).
    """
    prm = _params(kind, params)
    dim = _check_logits(logits, dim)
    s = logits.movedim(dim, -1).to(_work_dtype(logits))
    a = torch.exp(s - s.amax(-1, keepdim=True))  # softmax up to its normalizer, max entry 1
    n = (~torch.isneginf(s)).sum(-1).to(a.dtype)
    return _core(kind, a, n, prm).to(logits.dtype)


# ---------------------------------------------------------------- axioms: claims and a property harness


def sparse_end(kind: str) -> str:
    """Where ``kind`` is sparse: "low" (small = sparse, the post's convention) or "high". Chapter: sparsity-measures."""
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
