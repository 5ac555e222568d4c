"""The sparsity measures of post 9595, on rows of magnitudes or of logits. Chapter: sparsity-measures.

Every measure reads the magnitudes |x| along ``dim`` (signed input is allowed; only sizes matter)
and is scale invariant, so rows are divided by their largest magnitude first (no overflow in
``|x|^p``). Conventions, shared by all measures:

* an all-zero row has no shape to measure: NaN;
* n = 1: the row is both as sparse and as dense as a row can be; each docstring gives the value;
* NaN or +-inf in ``x`` is a ValueError; logits (:func:`sparsity_from_logits`) take -inf as a
  masked key, and then n counts the unmasked keys only.

Which of the Hurley–Rickard axioms each measure satisfies is stated in its docstring and checked by
:mod:`attnviz.sparsity.axioms`.
"""

from __future__ import annotations

import math

import torch

from .. import _checks
from ..entropy import renyi

KINDS = ("s0", "s1p", "sstar", "hoyer", "gini", "entropy", "renyi", "count")
_PARAMS = {"s1p": ("p",), "sstar": ("p", "q"), "renyi": ("a",), "count": ("a",)}
_DEFAULTS = {"p": 2.0, "q": 1.0, "a": 2.0}


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    real = x.abs().dtype if x.is_complex() else x.dtype
    return torch.float32 if real in (torch.float16, torch.bfloat16) else real


def _params(kind: str, params: dict) -> dict:
    """The parameters of measure ``kind``: defaults filled in, each checked."""
    _checks.choice("kind", kind, KINDS)
    allowed = _PARAMS.get(kind, ())
    for key in params:
        if key not in allowed:
            raise ValueError(f"kind={kind!r} takes {allowed or 'no parameters'}, got {key}=")
    out = {key: params.get(key, _DEFAULTS[key]) for key in allowed}
    if kind == "s1p":
        out["p"] = _checks.order("p", out["p"], low=1.0)
    if kind == "sstar":
        out["q"] = _checks.order("q", out["q"], low=0.0)
        if out["q"] == math.inf:
            raise ValueError("q must be finite")
        out["p"] = _checks.order("p", out["p"], low=out["q"])
    if kind in ("renyi", "count"):
        out["a"] = _checks.order("a", out["a"], low=0.0, zero=True)
    return out


def _prepare(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(|x| / max|x| moved to the last axis, n per row, nonzero-row mask) for a finite x."""
    _checks.tensor("x", x)
    _checks.finite("x", x)
    dim = _checks.dim(x, dim)
    a = x.movedim(dim, -1).abs().to(_work_dtype(x))  # (..., n)
    peak = a.amax(-1, keepdim=True)  # (..., 1)
    a = a / torch.where(peak > 0, peak, 1)
    n = torch.full(a.shape[:-1], float(a.shape[-1]), dtype=a.dtype, device=a.device)  # (...,)
    return a, n, peak[..., 0] > 0


def _norm(a: torch.Tensor, p: float) -> torch.Tensor:
    return a.amax(-1) if p == math.inf else a.pow(p).sum(-1).pow(1 / p)


def _core(kind: str, a: torch.Tensor, n: torch.Tensor, prm: dict) -> torch.Tensor:
    """Measure ``kind`` of rows a (..., n) with max 1 (zeros where masked), n unmasked entries each."""
    l1 = a.sum(-1)  # (...,)
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
    prob = a / torch.where(l1 > 0, l1, 1)[..., None]  # (..., n)
    prob = torch.where((l1 > 0)[..., None], prob, 1 / a.shape[-1])  # zero rows: a placeholder, NaN later
    order = 1.0 if kind == "entropy" else prm["a"]
    count = renyi(prob, order).exp()
    return count if kind == "count" else count / n


def _finish(value: torch.Tensor, nonzero: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.where(nonzero, value, math.nan).to(dtype)


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
    p = inf, q = 1 it is S0 and D1 is weak) and fails otherwise, against the post's "any p > q > 0"
    (the chapter gives the counterexample). S*_{1,2} = cos(sign x, x) when no entry is zero. n = 1 gives 1.
    """
    return sparsity(x, "sstar", dim, p=p, q=q)


def sparsity_index(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """l1/l2 sparsity mean|x| / sqrt(mean x^2) along ``dim``: S*_{1,2} under post 9889's name. Chapter: attention-focus.

    In [1/sqrt(n), 1], small = sparse: 1/sqrt(n) for a one-hot row, 1 when all |x_j| are equal; a
    row of zeros gives nan. The same measure as :func:`sstar` with p = 2, q = 1.
    """
    return sstar(x, p=2.0, q=1.0, dim=dim)


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
    """e^{H_a(p)}, p = |x|/l1: the effective number of entries, in [1, n], small = sparse.

    Chapter: none yet (sparsity-measures computes the same measure as sparsity(x, "count")).

    a = 2: the participation ratio 1/sum p^2; a = 1: the effective support e^H of
    :func:`attnviz.metrics.effective_support`. Axioms: D1, D2, D3, P1 hold; D4 fails (k clones
    multiply it by k); P2 is weak (zeros do not count). n = 1 gives 1.
    """
    return sparsity(x, "count", dim, a=a)


def sparsity_from_logits(logits: torch.Tensor, kind: str, dim: int = -1, **params: float) -> torch.Tensor:
    """sparsity(softmax(logits), kind) with -inf keys masked out: n counts unmasked keys. Chapter: sparsity-measures.

    A causal row i is measured as a distribution over its i + 1 visible keys, not over n keys with
    zeros (which P2 would count as sparser).
    """
    prm = _params(kind, params)
    dim = _checks.logits("logits", logits, dim)
    s = logits.movedim(dim, -1).to(_work_dtype(logits))  # (..., n)
    a = torch.exp(s - s.amax(-1, keepdim=True))  # softmax up to its normalizer, max entry 1
    n = (~torch.isneginf(s)).sum(-1).to(a.dtype)  # (...,) unmasked keys
    return _core(kind, a, n, prm).to(logits.dtype)
