"""attnviz.sparsity.axioms: the Hurley–Rickard axioms each measure claims, checked two independent ways.

Property tests written in plain Python (random vectors, one at a time, with their own transfers) and a
counterexample for every claimed failure; then the package's own batched harness must reproduce the
same table, catch broken measures, and its adversarial Robin Hood moves must match the D1 theory.
"""

import math
import random

import pytest
import torch

from attnviz.sparsity import (
    AXIOMS,
    KINDS,
    check_axiom,
    check_axioms,
    claimed_axioms,
    gini,
    robin_hood_paths,
    robin_hood_worst,
    sparse_end,
    sparsity,
    sstar,
)

F64 = torch.float64


def t(values):
    return torch.tensor(values, dtype=F64)


# ------------------------------------------------------------------ the axioms: independent property tests

EXPECTED = {  # (kind, params): the axioms that do not hold strictly
    ("s0", ()): {"D1": "weak"},
    ("s1p", (("p", 2.0),)): {"D4": "fails"},
    ("sstar", ()): {},
    ("sstar", (("p", 4.0),)): {},
    ("sstar", (("q", 0.5),)): {},
    ("sstar", (("p", 3.0), ("q", 2.0))): {"D1": "fails"},
    ("sstar", (("p", 0.5), ("q", 0.25))): {"D1": "fails"},
    ("hoyer", ()): {"D4": "fails", "P2": "weak"},
    ("gini", ()): {},
    ("entropy", ()): {},
    ("renyi", (("a", 2.0),)): {},
    ("renyi", (("a", 0.5),)): {},
    ("count", (("a", 1.0),)): {"D4": "fails", "P2": "weak"},
    ("count", (("a", 2.0),)): {"D4": "fails", "P2": "weak"},
}
CASES = [
    (kind, dict(params), axiom, EXPECTED[kind, params].get(axiom, "holds"))
    for kind, params in EXPECTED
    for axiom in AXIOMS
]


def density(kind, params, x):
    """The measure oriented as in the post (large = dense), for one vector."""
    sign = -1.0 if sparse_end(kind) == "high" else 1.0
    return sign * float(sparsity(t(x), kind, **params))


def random_vector(rng):
    """A random non-constant vector of random length, from one of five families."""
    n = rng.randint(2, 14)
    family = rng.randrange(5)
    if family == 0:
        x = [rng.uniform(0.01, 1.01) for _ in range(n)]
    elif family == 1:
        x = [math.exp(rng.gauss(0, 1.5)) for _ in range(n)]
    elif family == 2:
        x = [rng.random() * (rng.random() < 0.5) for _ in range(n)]
    elif family == 3:
        x = [rng.random() for _ in range(n)]
        x[rng.randrange(n)] += 100
    else:
        x = [10 ** rng.uniform(1, 3), 0] + [math.exp(0.3 * rng.gauss(0, 1)) for _ in range(n - 2)]
        x[1] = x[0] * rng.uniform(0.3, 0.9)
        rng.shuffle(x)
    if max(x) - min(x) <= 1e-2 * max(x):  # all zero or nearly constant
        x[0] += 1.0
    return x


def holds_on_random_vectors(kind, params, axiom, strict=True, trials=150, seed=0):
    """True if the axiom holds on every trial: strictly, or (``strict=False``) allowing ties."""
    rng = random.Random(seed)
    d = lambda v: density(kind, params, v)  # noqa: E731
    slack = 1e-10 if strict else -1e-10  # a change must exceed slack * |value| in the axiom's direction

    def rises(before, after):
        return after - before > slack * abs(before)

    for _ in range(trials):
        x = random_vector(rng)
        n, top = len(x), max(x)
        if axiom == "D1":
            i, j = rng.sample(range(n), 2)
            i, j = (i, j) if x[i] > x[j] else (j, i)
            if x[i] - x[j] < 1e-2 * top:
                continue
            ok = rises(d(x), d(_robin_hood(x, i, j, rng.uniform(0.05, 0.95) * (x[i] - x[j]) / 2)))
        elif axiom == "D2":
            scale = 10 ** rng.uniform(-3, 3)
            ok = abs(d([v * scale for v in x]) - d(x)) <= 1e-10 * max(1, abs(d(x)))
        elif axiom == "D3":
            tide = rng.uniform(0.05, 2) * top
            ok = rises(d(x), d([v + tide for v in x]))
        elif axiom == "D4":
            ok = all(abs(d(x * k) - d(x)) <= 1e-10 * max(1, abs(d(x))) for k in (2, 3))
        elif axiom == "P1":
            i = rng.randrange(n)
            if max(v for k, v in enumerate(x) if k != i) < 1e-2 * top:
                continue
            for rung in range(1, 9):  # P1 asks for some beta_i: try a ladder of them
                beta = 10.0**rung * n * top
                vals = [d([beta * s if k == i else v for k, v in enumerate(x)]) for s in (1, 1.5, 3, 10)]
                ok = all(rises(b, a) for a, b in zip(vals, vals[1:], strict=False))
                if ok:
                    break
        else:  # P2
            ok = rises(d([*x, 0.0]), d(x))
        if not ok:
            return False
    return True


@pytest.mark.parametrize("kind, params, axiom, verdict", CASES, ids=lambda v: str(v))
def test_axiom_property(kind, params, axiom, verdict):
    """Claimed axioms hold on seeded random vectors; each claimed failure has a counterexample."""
    assert claimed_axioms(kind, **params)[axiom] == verdict
    if verdict == "holds":
        assert holds_on_random_vectors(kind, params, axiom)
    else:
        assert COUNTEREXAMPLES[kind, axiom](params)
    if verdict == "weak":  # never violated, only tied
        assert holds_on_random_vectors(kind, params, axiom, strict=False)


def _robin_hood(x, i, j, alpha):
    y = list(x)
    y[i], y[j] = x[i] - alpha, x[j] + alpha
    return y


def _s0_d1(params):  # the donor is not the maximum: S0 does not move
    x = [4.0, 2.0, 0.0]  # binary fractions: the tie is exact in floating point
    return density("s0", params, _robin_hood(x, 1, 2, 1.0)) == density("s0", params, x)


def _sstar_d1(params):  # a transfer between two entries dwarfed (q, p > 1) or flanked (p < 1) lowers S*
    q = params["q"]
    x, i, j, alpha = ([10.0, 1.0, 0.5], 1, 2, 0.2) if q > 1 else ([100.0, 50.0] + [1.0] * 8, 0, 1, 10.0)
    return density("sstar", params, _robin_hood(x, i, j, alpha)) < density("sstar", params, x)


def _clones_change(kind):
    def check(params):
        x = [0.7, 0.1, 0.0, 2.0]
        return abs(density(kind, params, x + x) - density(kind, params, x)) > 1e-3

    return check


def _babies_tie(kind):
    def check(params):  # a single nonzero entry: appending a zero changes nothing
        return density(kind, params, [0.0, 3.0, 0.0]) == density(kind, params, [0.0, 3.0, 0.0, 0.0])

    return check


COUNTEREXAMPLES = {
    ("s0", "D1"): _s0_d1,
    ("sstar", "D1"): _sstar_d1,
    ("s1p", "D4"): _clones_change("s1p"),
    ("hoyer", "D4"): _clones_change("hoyer"),
    ("count", "D4"): _clones_change("count"),
    ("hoyer", "P2"): _babies_tie("hoyer"),
    ("count", "P2"): _babies_tie("count"),
}


# ------------------------------------------------------------------ the harness used by the chapter


@pytest.mark.parametrize("kind, params", list(EXPECTED), ids=lambda v: str(v))
def test_harness_reproduces_the_expected_table(kind, params):
    expected = {axiom: EXPECTED[kind, params].get(axiom, "holds") for axiom in AXIOMS}
    assert check_axioms(kind, **dict(params)) == expected


def test_harness_catches_broken_measures_and_returns_examples():
    l1 = lambda r: r.abs().sum(-1)  # noqa: E731  not scale invariant
    assert check_axiom(l1, "D2")[0] == "fails"
    ratio = lambda r: r.abs().sum(-1) / r.abs().amax(-1)  # noqa: E731  l1/max: cloning doubles it
    verdict, (x, y) = check_axiom(ratio, "D4")
    assert verdict == "fails" and y is None
    verdict, (x, y) = check_axiom("sstar", "D1", p=3.0, q=2.0)
    assert verdict == "fails" and float(sstar(y, p=3.0, q=2.0)) < float(sstar(x, p=3.0, q=2.0))
    assert check_axiom(lambda r: -gini(r), "D1", high=False)[0] == "holds"  # -Gini is dense-high
    assert check_axiom(gini, "D1")[0] == "fails"  # a function defaults to small = sparse


def test_robin_hood_helpers_match_the_d1_theory():
    for q, p in [(0.25, 1.5), (0.5, 2.0), (1.0, 2.0), (1.0, 4.0), (0.75, 1.0)]:  # q <= 1 <= p: D1 holds
        assert robin_hood_worst(q, p) > -1e-12
    for q, p in [(2.0, 3.0), (1.5, 4.0), (0.25, 0.5), (0.5, 0.75)]:
        assert robin_hood_worst(q, p) < -1e-5
    frac = torch.linspace(0, 1, 11, dtype=F64)
    paths = robin_hood_paths(2.0, 3.0, frac)
    assert float(paths["small pair under a giant"].min()) < 0 < float(paths["two giants in a crowd"].max())
    x = t([1.0 - 0.25 * 0.3, 0.5 + 0.25 * 0.3, 10.0])  # 30% of the way from (1, 0.5, 10)
    direct = float(sstar(x, p=3.0, q=2.0) / sstar(t([1.0, 0.5, 10.0]), p=3.0, q=2.0) - 1)
    assert abs(float(paths["small pair under a giant"][3]) - direct) < 1e-14
    assert float(robin_hood_paths(0.25, 0.5, frac)["two giants in a crowd"].min()) < 0
    with pytest.raises(ValueError, match="frac must lie"):
        robin_hood_paths(1.0, 2.0, t([1.5]))
    with pytest.raises(ValueError, match="p must be > 2"):
        robin_hood_worst(2.0, 1.0)


def test_sparse_end_of_every_kind():
    assert {kind: sparse_end(kind) for kind in KINDS} == {
        kind: "high" if kind in ("hoyer", "gini") else "low" for kind in KINDS
    }


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: check_axiom("gini", "D5"), "axiom must be one of"),
        (lambda: check_axiom("gini", "D1", lengths=(1,)), "lengths must be"),
        (lambda: check_axiom(len, "D1", p=2.0), "params apply"),
        (lambda: check_axiom(3, "D1"), "measure must be a kind"),
        (lambda: check_axiom("gini", "D1", seed=-1), "seed must be an int >= 0"),
        (lambda: claimed_axioms("l0"), "kind must be one of"),
        (lambda: claimed_axioms("sstar", p=1.0, q=2.0), "p must be > 2"),
        (lambda: sparse_end("l0"), "kind must be one of"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
