"""attnviz.lab.train: seeded training that learns, and checkpoints."""

import dataclasses
import math

import pytest
import torch

from attnviz import lab

SMALL = lab.LabConfig(d_model=32, n_layers=2, n_heads=2, train_len=32, steps=40, batch=8)


@pytest.mark.slow
def test_training_is_seeded_and_learns():
    model, history = lab.train(SMALL, progress=False, device="cpu")
    again, _ = lab.train(SMALL, progress=False, device="cpu")
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    first, last = sum(history["loss"][:5]) / 5, sum(history["loss"][-5:]) / 5
    assert first > math.log(lab.VOCAB) - 0.3  # starts near uniform over the vocabulary
    assert last < first - 0.8, (first, last)
    assert len(history["loss"]) == SMALL.steps and history["device"] == "cpu"


def test_one_step_moves_the_weights_and_is_seeded_by_the_config():
    cfg = dataclasses.replace(SMALL, steps=1, batch=4)
    a, _ = lab.train(cfg, progress=False, device="cpu")
    b, _ = lab.train(cfg, progress=False, device="cpu")
    c, _ = lab.train(dataclasses.replace(cfg, seed=1), progress=False, device="cpu")
    torch.manual_seed(cfg.seed)
    start = lab.TinyLM(cfg)  # the same initial weights train() starts from
    assert torch.equal(a.embed.weight, b.embed.weight) and not torch.equal(a.embed.weight, c.embed.weight)
    assert not torch.equal(a.embed.weight, start.embed.weight)


def test_checkpoint_round_trip(tmp_path):
    model, history = lab.load(lab.DATA_DIR / "rope.pt")
    path = lab.save(model, history, tmp_path / "sub" / "m.pt")
    again, hist = lab.load(path)
    tokens = lab.encode("print('hello')\n")[None, :]
    with torch.no_grad():
        assert torch.equal(again(tokens), model(tokens))
    assert hist["loss"] == history["loss"] and again.cfg == model.cfg
    with pytest.raises(ValueError, match="path"):
        lab.load(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="cfg"):
        lab.train({"d_model": 32})


def test_progress_bar_is_optional():
    items = range(3)
    assert lab.progress_bar(items, False, "x") is items
    assert list(lab.progress_bar(items, True, "x")) == [0, 1, 2]
    assert lab.default_device().type in ("cpu", "cuda")
