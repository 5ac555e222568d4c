"""attnviz.lab.stats: paired differences of two methods on the same sequences, with standard errors."""

import math

import pytest
import torch

from attnviz import lab


def test_one_seed_is_the_standard_error_of_the_per_sequence_differences():
    mean, se = lab.paired_difference([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0])
    assert mean == pytest.approx(2.5, abs=1e-12)
    assert se == pytest.approx(math.sqrt(5 / 3) / 2, abs=1e-12)  # sample sd sqrt(5/3), 4 samples


def test_pairing_cancels_how_hard_each_sequence_is():
    hardness = torch.linspace(0.0, 1.0, 20, dtype=torch.float64)  # very different sequences
    mean, se = lab.paired_difference(hardness + 0.1, hardness)
    assert mean == pytest.approx(0.1, abs=1e-12) and se == pytest.approx(0.0, abs=1e-12)


def test_several_seeds_add_the_seed_and_the_sequence_errors():
    a = torch.tensor([[1.0, 3.0], [3.0, 5.0]], dtype=torch.float64)  # (seeds, samples), b = 0
    mean, se = lab.paired_difference(a, torch.zeros_like(a))
    # seed means 2, 4 and sequence means 2, 4: each variance 2, over 2 -> 1; the two add to 2
    assert mean == pytest.approx(3.0, abs=1e-12) and se == pytest.approx(math.sqrt(2.0), abs=1e-12)


def test_standard_error_matches_the_spread_of_the_estimate():
    gen = torch.Generator().manual_seed(0)
    means, errors = [], []
    for _ in range(1000):  # 3 seeds x 32 sequences, true difference 0
        seed_effect = 0.05 * torch.randn(3, 1, generator=gen, dtype=torch.float64)
        seq_effect = 0.2 * torch.randn(1, 32, generator=gen, dtype=torch.float64)
        noise = 0.1 * torch.randn(3, 32, generator=gen, dtype=torch.float64)
        mean, se = lab.paired_difference(seed_effect + seq_effect + noise, torch.zeros(3, 32, dtype=torch.float64))
        means.append(mean)
        errors.append(se)
    spread = torch.tensor(means).std().item()
    typical = math.sqrt(sum(e * e for e in errors) / len(errors))
    assert 0.95 * spread < typical < 1.3 * spread  # unbiased to slightly large, never small
    rejected = sum(abs(m) > 2 * e for m, e in zip(means, errors, strict=True)) / len(means)
    assert rejected < 0.12  # at two standard errors (3 seeds: the seed term has 2 degrees of freedom)


def _result():
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.1)):
        for method, bonus in (("rope", 0.0), ("pi", -0.2)):
            acc = [0.5 + shift + bonus + 0.1 * i for i in range(3)]
            rows.append(
                {"model": "rope", "seed": seed, "method": method, "length": 8, "task": "text",
                 "accuracy": sum(acc) / 3, "per_sample": {"accuracy": acc}}
            )  # fmt: skip
    rows.append({"model": "other", "seed": 5, "method": "rope", "length": 8, "task": "text", "accuracy": 0.1})
    return {"meta": {}, "rows": rows}


def test_scores_and_difference_read_a_result():
    result = _result()
    got = lab.scores(result, "rope", "pi", 8, "text")
    assert got.shape == (2, 3) and got[1, 0].item() == pytest.approx(0.4, abs=1e-12)
    assert lab.scores(result, "rope", "pi", 8, "text", seeds=[1]).shape == (1, 3)
    mean, se, seeds = lab.difference(result, "pi", "rope:rope", 8, "text")
    assert (mean, se, seeds) == (pytest.approx(-0.2, abs=1e-12), pytest.approx(0.0, abs=1e-12), 2)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: lab.paired_difference([1.0, 2.0], [1.0]), "one shape"),
        (lambda: lab.paired_difference([1.0], [2.0]), "at least 2 samples"),
        (lambda: lab.paired_difference([1.0, float("nan")], [0.0, 0.0]), "finite"),
        (lambda: lab.scores(_result(), "rope", "ntk", 8, "text"), "method='ntk'"),
        (lambda: lab.scores(_result(), "rope", "pi", 8, "text", seeds=[7]), "seeds"),
        (lambda: lab.scores(_result(), "rope", "pi", 8, "text", "loss"), "metric 'loss'"),
        (lambda: lab.scores(_result(), "rope", "pi", 8, "summaries"), "task"),
        (lambda: lab.difference(_result(), "pi", "other:rope", 8, "text"), "share no training seed"),
        (lambda: lab.difference(_result(), "", "rope", 8, "text"), "a must be"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
