"""The stochastic claims of the rope-beta-base chapter (its two digit toys), re-run on ten seeds it does not use.

The chapter trains each toy on seeds 0 to 4 and decides its ledger verdicts from paired differences over the
seeds. These tests train the same networks (same widths, steps, learning rate and data) on seeds 11 to 20 and
assert the chapter's per-seed bounds and the same verdicts, so the verdicts describe the toys, not one draw.
"""

import math

import pytest
import torch
from torch import nn

from attnviz import ledger, toys, verify
from attnviz.positions import beta_digits

SEEDS = range(11, 21)  # the chapter uses seeds 0 to 4
pytestmark = pytest.mark.slow  # about 15 s: 50 small networks trained


def _mlp(inputs: int, seed: int, width: int = 256) -> nn.Module:
    with toys.seeded(seed):
        return nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, 1))


def _bce(model, batch):
    x, y = batch
    return nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y)


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return ((model(x)[:, 0] > 0).float() == y).float().mean().item()


def _verdict(a: list[float], b: list[float]) -> str:
    """The chapter's verdict on "a > b": the paired difference against two standard errors."""
    diff = torch.tensor(a, dtype=torch.float64) - torch.tensor(b, dtype=torch.float64)
    return ledger.compare(diff.mean().item(), (diff.std() / len(diff) ** 0.5).item())


# Toy 1 (cell wave-toy): a target that flips every 5 numbers, n < 1000, four encodings of n.
N = torch.arange(1000, dtype=torch.float64)
WAVE = (N % 10 >= 5).float()
TURNS = N[:, None] / torch.tensor([10.0, 100.0, 1000.0], dtype=torch.float64)
ENCODINGS = {
    "n": N[:, None],
    "n / 1000": N[:, None] / 1000,
    "3 digits": beta_digits(N, 10, 3),
    "3 sinusoids": torch.cat([(2 * math.pi * TURNS).cos(), (2 * math.pi * TURNS).sin()], -1),
}


def _wave_accuracy(name: str, seed: int) -> float:
    x = ENCODINGS[name].float()
    net = _mlp(x.shape[1], seed)
    toys.fit(net, lambda g: (x, WAVE), _bce, steps=100, lr=1e-2, seed=seed)
    return _accuracy(net, x, WAVE)


# Toy 2 (cell comparator-toy): learn a > b from four decimal digits each, below 1000; read pairs below 2000.
def _digits_of(v, base, places):
    v = torch.as_tensor(v, dtype=torch.float64)
    digits = beta_digits(v, base, places)
    digits[..., 0] += v - v.floor()
    return digits


def _pairs(seed: int, size: int, top: int):
    a, b = torch.randint(0, top, (2, size), generator=verify.gen(seed)).double()
    keep = a != b
    return a[keep], b[keep], (a[keep] > b[keep]).float()


READ = {
    "extrapolation": lambda v: beta_digits(v, 10, 4),
    "interpolation": lambda v: _digits_of(v / 2, 10, 4),
    "base 13": lambda v: beta_digits(v, 13, 4),
    "base 16": lambda v: beta_digits(v, 16, 4),
}


def _comparator_scores(seed: int) -> tuple[dict[str, float], float]:
    a, b, y = _pairs(seed, 4000, 1000)
    x = torch.cat([beta_digits(v, 10, 4) for v in (a, b)], -1).float()  # (., 8)
    net = _mlp(8, seed, width=64)
    first = net[0].weight.detach().clone()
    toys.fit(net, lambda g: (x, y), _bce, steps=150, lr=1e-2, seed=seed)
    moved = (net[0].weight.detach() - first)[:, [3, 7]].abs().max().item()
    tests = {"trained range": (1000, READ["extrapolation"])} | {r: (2000, f) for r, f in READ.items()}
    acc = {}
    for name, (top, read) in tests.items():
        a, b, y = _pairs(seed + 1000, 10000, top)
        acc[name] = _accuracy(net, torch.cat([read(a), read(b)], -1).float(), y)
    return acc, moved


@pytest.fixture(scope="module")
def wave():
    return {name: [_wave_accuracy(name, s) for s in SEEDS] for name in ENCODINGS}


@pytest.fixture(scope="module")
def comparator():
    runs = [_comparator_scores(s) for s in SEEDS]
    return {name: [acc[name] for acc, _ in runs] for name in runs[0][0]}, [moved for _, moved in runs]


def test_one_number_is_unusable_while_digits_and_sinusoids_are_learned(wave):
    """Claims 'a single input is hard to use; digits avoid it' and 'Fourier features fix high frequencies'."""
    scalar_best = [max(a, b) for a, b in zip(wave["n"], wave["n / 1000"], strict=True)]
    assert max(scalar_best) < 0.6
    assert min(wave["3 digits"] + wave["3 sinusoids"]) > 0.99
    assert _verdict(wave["3 digits"], scalar_best) == "holds"
    assert _verdict(wave["3 sinusoids"], scalar_best) == "holds"


def test_a_reserved_digit_never_trains_and_extrapolation_then_fails(comparator):
    acc, moved = comparator
    assert max(moved) == 0.0
    assert min(acc["trained range"]) > 0.98 and max(acc["extrapolation"]) < 0.85
    assert _verdict(acc["trained range"], acc["extrapolation"]) == "holds"


def test_base_conversion_and_interpolation_need_no_fine_tuning_in_the_toy(comparator):
    acc, _ = comparator
    assert min(acc["base 13"] + acc["base 16"] + acc["interpolation"]) > 0.95
    assert _verdict(acc["base 16"], acc["extrapolation"]) == "holds"
    assert _verdict(acc["base 13"], acc["base 16"]) == "holds"  # base 13 loses less than base 16
