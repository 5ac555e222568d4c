"""Sparsity measures (post 9595): reference values, closed forms, edge cases, and the six axioms as property tests."""

import math
import random

import pytest
import torch

from attnviz.metrics import effective_support, entropy
from attnviz.sparsity import (
    AXIOMS,
    KINDS,
    check_axiom,
    check_axioms,
    claimed_axioms,
    effective_count,
    entropy_sparsity,
    gini,
    hoyer,
    participation_ratio,
    renyi,
    renyi_from_logits,
    s0,
    s1p,
    sparse_end,
    sparsity,
    sparsity_from_logits,
    sstar,
)

INF = math.inf
F64 = torch.float64


def t(values):
    return torch.tensor(values, dtype=F64)


# ------------------------------------------------------------------ reference values (spec table, 1e-6)

REFERENCE = {
    # vector: H, e^H, H_2, 1/sum p^2, H_inf, S0, S*_{1,2}, Gini
    "one-hot": ([1.0, 0.0, 0.0, 0.0], [0, 1, 0, 1, 0, 0.25, 0.5, 0.75]),
    "uniform": ([0.25] * 4, [1.386294, 4, 1.386294, 4, 1.386294, 1, 1, 0]),
    "softmax(0,1,2,3)": (
        None,
        [0.947537, 2.579349, 0.735301, 2.086111, 0.440190, 0.388250, 0.722169, 0.496326],
    ),
    "halves": ([0.5, 0.25, 0.125, 0.125], [1.213008, 3.363586, 1.067841, 2.909091, 0.693147, 0.5, 0.852803, 0.3125]),
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_values(name):
    values, expected = REFERENCE[name]
    p = torch.softmax(torch.arange(4, dtype=F64), -1) if values is None else t(values)
    got = [
        entropy(p),
        effective_support(p),
        renyi(p, 2),
        participation_ratio(p),
        renyi(p, INF),
        s0(p),
        sstar(p),
        gini(p),
    ]
    for value, want in zip(got, expected, strict=True):
        assert abs(float(value) - want) < 1e-6


# ------------------------------------------------------------------ closed forms and independent references


def rows(seed=0, batch=50, n=7, zeros=False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n, generator=gen, dtype=F64)
    if zeros:
        x = x * (torch.rand(batch, n, generator=gen) < 0.6)
        x[:, 0] = 1.0
    return x


def test_direct_formulas():
    x = rows(zeros=True)
    a, n = x.abs(), x.shape[-1]
    l1, l2 = a.sum(-1), a.pow(2).sum(-1).sqrt()
    assert torch.allclose(s0(x), l1 / n / a.amax(-1), atol=1e-14)
    assert torch.allclose(s1p(x, 3.0), l1 / n / a.pow(3).sum(-1) ** (1 / 3), atol=1e-14)
    power_mean = lambda r: a.pow(r).mean(-1) ** (1 / r)  # noqa: E731
    assert torch.allclose(sstar(x, p=3.0, q=0.5), power_mean(0.5) / power_mean(3.0), atol=1e-13)
    assert torch.allclose(hoyer(x), (n**0.5 - l1 / l2) / (n**0.5 - 1), atol=1e-14)
    pairs = (a[:, :, None] - a[:, None, :]).abs().sum((-1, -2))  # mean absolute difference form
    assert torch.allclose(gini(x), pairs / (2 * n * l1), atol=1e-14)


def test_limits_in_p_and_a_reach_s0():
    x = rows(1)
    assert torch.equal(s1p(x, INF), s0(x))
    assert torch.allclose(sstar(x, p=INF, q=1.0), s0(x), atol=1e-15)
    assert torch.allclose(entropy_sparsity(x, INF), s0(x), atol=1e-14)
    assert torch.allclose(s1p(x, 400.0), s0(x), rtol=2e-2)  # l_p -> max as p grows


def test_entropy_links():
    x = rows(2, zeros=True)
    p, n = x.abs() / x.abs().sum(-1, keepdim=True), x.shape[-1]
    for order in (0.3, 2.0, 3.5):
        ratio = entropy_sparsity(x, order)
        assert torch.allclose(ratio, renyi(p, order).exp() / n, atol=1e-14)
        lo, hi = min(order, 1.0), max(order, 1.0)
        assert torch.allclose(ratio, sstar(x, p=hi, q=lo) ** (order / abs(order - 1)), atol=1e-13)
    assert torch.allclose(sstar(x) ** 2 * n, participation_ratio(p), atol=1e-12)  # S*^2 n = e^{H_2}
    assert torch.allclose(entropy_sparsity(x), effective_support(p) / n, atol=1e-14)
    assert torch.allclose(effective_count(x, 1.0), effective_support(p), atol=1e-13)
    assert torch.allclose(effective_count(x), participation_ratio(p), atol=1e-12)
    assert torch.allclose(renyi(p, 1 + 1e-7), entropy(p), atol=1e-6)  # a -> 1 is Shannon


def test_renyi_order_and_chain():
    p = torch.softmax(3 * rows(3, n=12), -1)
    p[:5, 6:] = 0.0
    p = p / p.sum(-1, keepdim=True)
    orders = [0, 0.5, 1, 2, 3, INF]
    h = torch.stack([renyi(p, a) for a in orders])
    assert bool((h[1:] <= h[:-1] + 1e-12).all())  # non-increasing in the order
    supp, n = (p > 0).sum(-1).double(), p.shape[-1]
    chain = [torch.ones(len(p), dtype=F64), 1 / p.amax(-1), participation_ratio(p), effective_support(p), supp]
    for lo, hi in zip(chain, [*chain[1:], torch.full_like(supp, n)], strict=True):
        assert bool((lo <= hi * (1 + 1e-12)).all())


def test_cos_identity_and_bounds():
    x = rows(4)  # Gaussian rows: no zeros
    cos = torch.cosine_similarity(torch.sign(x), x, dim=-1)
    assert torch.allclose(sstar(x), cos, atol=1e-14)
    for q, p in [(1.0, 2.0), (0.5, 3.0), (2.0, 5.0)]:
        n = x.shape[-1]
        low = n ** (1 / p - 1 / q)
        s = sstar(x, p=p, q=q)
        assert bool((s >= low - 1e-14).all() and (s <= 1 + 1e-14).all())
        one_hot, flat = torch.eye(n, dtype=F64), torch.ones(3, n, dtype=F64) * t([[1.0], [-2.0], [3.0]])
        assert torch.allclose(sstar(one_hot, p=p, q=q), torch.full((n,), low, dtype=F64), atol=1e-14)
        assert torch.allclose(sstar(flat, p=p, q=q), torch.ones(3, dtype=F64), atol=1e-14)


def test_signs_and_dim():
    x = rows(5, zeros=True)
    for kind in KINDS:
        assert torch.allclose(sparsity(-x, kind), sparsity(x.abs(), kind), equal_nan=True)
        assert torch.allclose(sparsity(x.T.contiguous(), kind, dim=0), sparsity(x, kind), atol=1e-14)
    batch = rows(6).reshape(5, 10, 7)
    assert sparsity(batch, "gini", dim=1).shape == (5, 7)


# ------------------------------------------------------------------ edge cases

N1 = {"s0": 1.0, "s1p": 1.0, "sstar": 1.0, "hoyer": math.nan, "gini": 0.0, "entropy": 1.0, "renyi": 1.0, "count": 1.0}


@pytest.mark.parametrize("kind", KINDS)
def test_zero_rows_are_nan_and_n1_is_defined(kind):
    x = t([[0.0, 0.0, 0.0], [1.0, 0.0, 2.0]])
    out = sparsity(x, kind)
    assert math.isnan(float(out[0])) and math.isfinite(float(out[1]))
    got = float(sparsity(t([[-3.5]]), kind)[0])
    assert (math.isnan(got) and math.isnan(N1[kind])) or got == pytest.approx(N1[kind], abs=1e-15)


@pytest.mark.parametrize("kind", KINDS)
def test_extreme_magnitudes_and_half_precision(kind):
    x = t([[1e300, 3e299, 0.0, 2e298], [1e-300, 3e-301, 0.0, 2e-302]])
    ref = sparsity(x / x.abs().amax(-1, keepdim=True), kind)
    assert torch.allclose(sparsity(x, kind), ref, atol=1e-14)
    y = rows(7, n=16, zeros=True)
    half = sparsity(y.half(), kind)
    assert half.dtype == torch.float16
    assert torch.allclose(half.double(), sparsity(y.half().double(), kind), rtol=2e-3, atol=2e-3)


def test_logits_match_probabilities_and_mask():
    s = rows(8, batch=6, n=6) * 3
    causal = s.masked_fill(~torch.ones(6, 6, dtype=torch.bool).tril(), -INF)
    for kind, params in [("s0", {}), ("sstar", {"p": 3.0, "q": 0.5}), ("hoyer", {}), ("gini", {}), ("entropy", {})]:
        full = sparsity_from_logits(s, kind, **params)
        assert torch.allclose(full, sparsity(torch.softmax(s, -1), kind, **params), atol=1e-13, equal_nan=True)
        masked = sparsity_from_logits(causal, kind, **params)
        for i in range(6):  # row i is a distribution over its i + 1 visible keys
            prefix = sparsity(torch.softmax(s[i, : i + 1], -1), kind, **params)
            assert torch.allclose(masked[i], prefix, atol=1e-13, equal_nan=True)
    assert float(sparsity_from_logits(causal, "s0")[0]) == 1.0  # one visible key


@pytest.mark.parametrize("order", [0, 0.5, 1, 2, INF])
def test_renyi_from_logits(order):
    s = rows(9, batch=4, n=5).masked_fill(torch.eye(4, 5, dtype=torch.bool), -INF) * 4
    assert torch.allclose(renyi_from_logits(s, order), renyi(torch.softmax(s, -1), order), atol=1e-12)
    big = t([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    out = renyi_from_logits(big, order)
    assert bool(torch.isfinite(out).all()) and abs(float(out[1]) - math.log(3)) < 1e-12


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: s0(t([1.0, math.nan])), "x must be finite"),
        (lambda: gini(t([1.0, INF])), "x must be finite"),
        (lambda: sstar(t([1.0, -INF])), "x must be finite"),
        (lambda: s0([1.0, 2.0]), "x must be a torch.Tensor"),
        (lambda: s0(torch.tensor([1, 2])), "floating-point"),
        (lambda: s0(torch.ones(2, 0)), "at least one entry"),
        (lambda: s0(torch.ones(3), dim=1), "dim must lie"),
        (lambda: s1p(torch.ones(3), p=1.0), "p must be > 1"),
        (lambda: sstar(torch.ones(3), p=1.0, q=2.0), "p must be > 2"),
        (lambda: sstar(torch.ones(3), q=0.0), "q must be > 0"),
        (lambda: sstar(torch.ones(3), p=math.nan), "p must be a real number"),
        (lambda: sparsity(torch.ones(3), "l0"), "kind must be one of"),
        (lambda: sparsity(torch.ones(3), "gini", p=2.0), "takes no parameters"),
        (lambda: renyi(t([0.5, 0.6]), 2), "must sum to 1"),
        (lambda: renyi(t([1.5, -0.5]), 2), "non-negative"),
        (lambda: renyi(t([0.5, 0.5]), -1), "a must be > 0"),
        (lambda: renyi_from_logits(t([-INF, -INF]), 2), "every entry of some row"),
        (lambda: sparsity_from_logits(t([INF, 0.0]), "s0"), "nan or \\+inf"),
        (lambda: sparsity_from_logits(t([math.nan, 0.0]), "s0"), "nan or \\+inf"),
        (lambda: check_axiom("gini", "D5"), "axiom must be one of"),
        (lambda: check_axiom("gini", "D1", lengths=(1,)), "lengths must be"),
        (lambda: check_axiom(len, "D1", p=2.0), "params apply"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


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


def test_clone_factors():
    x = rows(10, batch=5, n=6)
    for k in (2, 3):
        clones = x.repeat(1, k)
        assert torch.allclose(s1p(clones), k**-0.5 * s1p(x), atol=1e-14)  # S_{1,2} shrinks by k^{-1/p}
        assert torch.allclose(effective_count(clones), k * effective_count(x), atol=1e-12)
        assert torch.allclose(sstar(clones, p=3.0, q=0.5), sstar(x, p=3.0, q=0.5), atol=1e-14)


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
    from attnviz.sparsity import robin_hood_paths, robin_hood_worst

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


def test_agrees_with_the_focus_chapter_index():
    focus = pytest.importorskip("attnviz.focus")
    x = rows(11, zeros=True)
    assert torch.allclose(focus.sparsity_index(x), sstar(x), atol=1e-14)
