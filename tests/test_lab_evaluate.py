"""attnviz.lab.evaluate: scores at any length, split between copyable and fresh characters."""

import pytest
import torch

from attnviz import lab


@pytest.fixture(scope="module")
def shipped():
    model, _ = lab.load(lab.DATA_DIR / "rope.pt")
    return model


def test_evaluate_is_reproducible_and_splits_copyable_characters(shipped):
    a = lab.evaluate(shipped, "rope", 48, "repeat", samples=4, batch=2)
    b = lab.evaluate(shipped, "rope", 48, "repeat", samples=4, batch=4)
    assert a == pytest.approx(b, rel=1e-5)
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


def test_passkey_is_scored_on_the_digits(shipped):
    key = lab.evaluate(shipped, "rope", 64, "passkey", samples=8, batch=4)
    assert 0.0 <= key["exact"] <= key["accuracy"] <= 1.0
    assert key["accuracy"] > 0.9  # inside its training length the shipped model recalls passkeys
    assert key["copy_accuracy"] == pytest.approx(key["accuracy"], rel=1e-12)  # every digit is copyable


def test_bad_input_names_the_argument(shipped):
    with pytest.raises(ValueError, match="task"):
        lab.evaluate(shipped, "rope", 64, "summaries")
    with pytest.raises(ValueError, match="name"):
        lab.evaluate(shipped, "alibi", 64, "text")
    with pytest.raises(ValueError, match="length"):
        lab.evaluate(shipped, "rope", 0, "text")
    with pytest.raises(ValueError, match="samples"):
        lab.evaluate(shipped, "rope", 64, "text", samples=0)
