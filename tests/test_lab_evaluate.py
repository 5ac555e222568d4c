"""attnviz.lab.evaluate: scores at any length, split between copyable and fresh characters."""

import pytest
import torch

from attnviz import lab


def test_evaluate_is_reproducible_and_splits_copyable_characters(shipped):
    a = lab.evaluate(shipped, "rope", 48, "repeat", samples=4, batch=2)
    b = lab.evaluate(shipped, "rope", 48, "repeat", samples=4, batch=4)
    per_a, per_b = a.pop("per_sample"), b.pop("per_sample")
    assert a == pytest.approx(b, rel=1e-5)
    assert set(per_a) == set(a) and all(per_a[k] == pytest.approx(per_b[k], rel=1e-5, abs=1e-6) for k in per_a)
    n_copy, n_fresh = 48 - 24 + 1, 24 - 1  # period (48 + 1) // 2 = 24: targets 1 .. 48, copyable from 24 on
    mixed = (n_copy * a["copy_accuracy"] + n_fresh * a["fresh_accuracy"]) / 48
    assert a["accuracy"] == pytest.approx(mixed, rel=1e-6)
    assert a["copy_accuracy"] > a["fresh_accuracy"] + 0.1  # the shipped model copies inside its window


def test_evaluate_scores_against_a_direct_computation(shipped):
    got = lab.evaluate(shipped, "window", 80, "text", samples=3, batch=2, seed=9)
    gen = torch.Generator().manual_seed(9)
    losses, hits = [], []
    for b in (2, 1):  # the batches evaluate draws: 2 rows, then the last one
        tokens = lab.text_batch(lab.corpus("test"), b, 80, gen)["tokens"]  # (b, 81)
        with torch.no_grad():
            logits = shipped(tokens[:, :-1], "window")  # (b, 80, VOCAB)
        losses.append(torch.nn.functional.cross_entropy(logits.transpose(1, 2), tokens[:, 1:], reduction="none"))
        hits.append(logits.argmax(-1) == tokens[:, 1:])
    nll, accuracy = torch.cat(losses).double().mean().item(), torch.cat(hits).double().mean().item()
    assert got["loss"] == pytest.approx(nll, rel=1e-6) and got["accuracy"] == pytest.approx(accuracy, rel=1e-12)
    assert "copy_accuracy" not in got and got["fresh_accuracy"] == pytest.approx(accuracy, rel=1e-12)
    per_sequence = torch.cat(hits).double().mean(1)  # (3,): one accuracy per sequence
    assert got["per_sample"]["accuracy"] == pytest.approx(per_sequence.tolist(), abs=1e-6)
    assert got["per_sample"]["loss"] == pytest.approx(torch.cat(losses).double().mean(1).tolist(), abs=2e-6)


def test_per_sample_scores_average_to_the_means(shipped):
    for task, keys in (
        ("text", {"loss", "accuracy", "fresh_loss", "fresh_accuracy"}),
        ("repeat", {"loss", "accuracy", "copy_loss", "copy_accuracy", "fresh_loss", "fresh_accuracy"}),
        ("passkey", {"loss", "accuracy", "copy_loss", "copy_accuracy", "exact"}),
    ):
        got = lab.evaluate(shipped, "rerope-w16", 72, task, samples=5, batch=2)
        per = got["per_sample"]
        assert set(per) == keys and all(len(v) == 5 for v in per.values())
        for key, values in per.items():  # every sequence scores the same number of characters
            assert sum(values) / 5 == pytest.approx(got[key], abs=1e-6)
        if task == "passkey":  # exact: all five digits right, so never above the sequence's accuracy
            assert all(e in (0.0, 1.0) and e <= a for e, a in zip(per["exact"], per["accuracy"], strict=True))


def test_passkey_is_scored_on_the_digits(shipped):
    key = lab.evaluate(shipped, "rope", 64, "passkey", samples=8, batch=4)
    assert 0.0 <= key["exact"] <= key["accuracy"] <= 1.0
    assert key["accuracy"] > 0.9  # inside its training length the shipped model recalls passkeys
    assert key["copy_accuracy"] == pytest.approx(key["accuracy"], rel=1e-12)  # every digit is copyable


def test_fixed_segment_scores_the_same_characters_with_growing_context(shipped):
    got = lab.fixed_segment(shipped, "window", (64, 200, 256), segment=32, samples=3, batch=2, seed=4)
    # the segment read with exactly its own context: a direct computation on the last 65 characters
    gen = torch.Generator().manual_seed(4)
    rows = [lab.text_batch(lab.corpus("test"), b, 256, gen)["tokens"][:, -65:] for b in (2, 1)]
    tokens = torch.cat(rows)  # (3, 65)
    with torch.no_grad():
        logits = shipped(tokens[:, :-1], "window")[:, -32:]  # (3, 32, VOCAB)
    hits = (logits.argmax(-1) == tokens[:, -32:]).double().mean(-1)  # (3,)
    assert got[64]["per_sample"]["accuracy"] == pytest.approx(hits.tolist(), abs=1e-6)
    # two layers of a 64-key window see at most 2 * 63 characters back: beyond that, more context is unseen
    assert got[200]["per_sample"]["loss"] == pytest.approx(got[256]["per_sample"]["loss"], abs=1e-5)
    assert got[64]["per_sample"]["loss"] != pytest.approx(got[256]["per_sample"]["loss"], abs=1e-3)
    with pytest.raises(ValueError, match="contexts"):
        lab.fixed_segment(shipped, "rope", (16,), segment=32)


def test_bad_input_names_the_argument(shipped):
    with pytest.raises(ValueError, match="task"):
        lab.evaluate(shipped, "rope", 64, "summaries")
    with pytest.raises(ValueError, match="name"):
        lab.evaluate(shipped, "alibi", 64, "text")
    with pytest.raises(ValueError, match="length"):
        lab.evaluate(shipped, "rope", 0, "text")
    with pytest.raises(ValueError, match="samples"):
        lab.evaluate(shipped, "rope", 64, "text", samples=0)
