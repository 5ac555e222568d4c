"""The length-extrapolation lab: frequency schedules, ReRoPE, data, the model's methods, training and the study."""

import dataclasses
import json
import math

import pytest
import torch

from attnviz import lab
from attnviz.attention import causal_mask, scores
from attnviz.positions import apply_rope, rerope_positions, rerope_scores, rope_frequencies

SMALL = lab.LabConfig(d_model=32, n_layers=2, n_heads=2, train_len=32, steps=40, batch=8)


# --- data ---------------------------------------------------------------------------------------------------------


def test_encode_decode_round_trip_and_unknown_characters():
    ids = lab.encode("def f(x):\n\treturn x  # é")
    assert ids.dtype == torch.int64 and int(ids.max()) < lab.VOCAB
    assert lab.decode(ids) == "def f(x):\n    return x  # ?"
    with pytest.raises(ValueError, match="text"):
        lab.encode(b"bytes")


def test_corpus_is_the_standard_library_split_by_file():
    train, test = lab.corpus("train"), lab.corpus("test")
    assert train.numel() > 1_000_000 and test.numel() > 100_000
    assert lab.decode(test[:2000]).count("import") >= 1
    with pytest.raises(ValueError, match="split"):
        lab.corpus("validation")


def test_repeat_batch_marks_exactly_the_copyable_targets():
    gen = torch.Generator().manual_seed(0)
    data = lab.repeat_batch(lab.corpus("test"), 3, 40, gen, period=15)
    tokens, copyable = data["tokens"], data["copyable"]
    assert tokens.shape == (3, 41) and copyable.shape == (3, 40)
    target = tokens[:, 1:]
    t = torch.arange(40)
    assert torch.equal(copyable[0], t + 1 >= 15)
    copy_t = t[copyable[0]]  # each copyable target equals the token one period earlier
    assert torch.equal(target[:, copy_t], tokens[:, copy_t + 1 - 15])
    assert torch.equal(tokens[:, 15:], tokens[:, : 41 - 15])  # the whole row repeats with the period
    with pytest.raises(ValueError, match="period"):
        lab.repeat_batch(lab.corpus("test"), 1, 10, gen, period=11)


def test_passkey_batch_hides_the_answer_and_asks_for_it_at_the_end():
    gen = torch.Generator().manual_seed(0)
    for depth in (0.0, 0.5, 1.0):
        data = lab.passkey_batch(lab.corpus("test"), 4, 64, gen, digits=5, depth=depth)
        tokens, answer = data["tokens"], data["answer"]
        assert int(answer.sum()) == 4 * 5 and bool(answer[:, -5:].all())
        for row in tokens:
            text = lab.decode(row)
            start = text.index("«")
            assert text[start + 6] == "»" and text[-6] == "«"
            assert text[start + 1 : start + 6] == text[-5:] and text[-5:].isdigit()
    with pytest.raises(ValueError, match="depth"):
        lab.passkey_batch(lab.corpus("test"), 1, 64, gen, depth=1.5)
    with pytest.raises(ValueError, match="length"):
        lab.passkey_batch(lab.corpus("test"), 1, 8, gen)


# --- the model and its methods ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    model, history = lab.train(SMALL, progress=False, device="cpu")
    return model, history


def test_training_is_seeded_and_learns(trained):
    model, history = trained
    again, _ = lab.train(SMALL, progress=False, device="cpu")
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    first, last = sum(history["loss"][:5]) / 5, sum(history["loss"][-5:]) / 5
    assert first > math.log(lab.VOCAB) - 0.3  # starts near uniform over the vocabulary
    assert last < first - 0.8, (first, last)


def test_plain_rope_attention_equals_rotated_scores_with_a_causal_mask(trained):
    model, _ = trained
    attn = model.blocks[0].attn
    torch.manual_seed(2)
    q, k = torch.randn(1, 2, 20, 16), torch.randn(1, 2, 20, 16)
    freqs = rope_frequencies(16, SMALL.base)
    pos = torch.arange(20)
    expected = scores(apply_rope(q, pos, freqs), apply_rope(k, pos, freqs)).masked_fill(
        ~causal_mask(20, 20), float("-inf")
    )
    assert torch.allclose(attn.logits(q, k, lab.method("rope")), expected, atol=1e-5)


@pytest.mark.parametrize(
    "name", ["pi", "ntk", "ntk-mixed", "yarn", "rerope-w32", "window", "window+sinks", "rope+logn"]
)
def test_every_method_is_plain_rope_within_the_training_length_and_differs_beyond(trained, name):
    model, _ = trained
    gen = torch.Generator().manual_seed(3)
    short = lab.text_batch(lab.corpus("test"), 2, SMALL.train_len, gen)["tokens"][:, :-1]
    with torch.no_grad():
        assert torch.allclose(model(short, name), model(short, "rope"), atol=1e-5)
        long = lab.text_batch(lab.corpus("test"), 2, 4 * SMALL.train_len, gen)["tokens"][:, :-1]
        assert not torch.allclose(model(long, name), model(long, "rope"), atol=1e-4)


def test_leaky_rerope_auto_keeps_relative_positions_inside_the_training_range(trained):
    model, _ = trained
    torch.manual_seed(4)
    n, w = 200, 8
    q, k = torch.randn(1, 1, n, 16), torch.randn(1, 1, n, 16)
    got = model.blocks[0].attn.logits(q, k, lab.Method(rerope=w, leak="auto"))
    leak = (n - 1 - w) / (SMALL.train_len - 1 - w)
    assert rerope_positions(n, w, leak).tril().max().item() == pytest.approx(SMALL.train_len - 1)
    expected = rerope_scores(q, k, rope_frequencies(16), w, leak) / 4.0  # 1 / sqrt(d_head = 16)
    assert torch.allclose(got, expected.masked_fill(~causal_mask(n, n), float("-inf")), atol=1e-5)


def test_window_and_sinks_mask():
    mask = lab.visible(6, window=2, sinks=1)
    assert mask.tolist()[5] == [True, False, False, False, True, True]
    assert torch.equal(lab.visible(5), causal_mask(5, 5))


def test_nope_model_ignores_position_methods():
    cfg = dataclasses.replace(SMALL, position="none", steps=1)
    model, _ = lab.train(cfg, progress=False, device="cpu")
    tokens = lab.encode("x = 1\n" * 30)[None, :]
    with torch.no_grad():
        assert torch.allclose(model(tokens, "rope"), model(tokens, "ntk"), atol=1e-6)


def test_attention_maps_are_causal_rows_of_probabilities(trained):
    model, _ = trained
    maps = model.attention_maps(lab.encode("import os\n" * 5)[None, :])
    assert maps.shape == (SMALL.n_layers, 1, SMALL.n_heads, 50, 50)
    assert torch.allclose(maps.sum(-1), torch.ones(()), atol=1e-5)
    assert float(maps.triu(1).abs().max()) == 0.0


def test_checkpoint_round_trip(trained, tmp_path):
    model, history = trained
    path = lab.save(model, history, tmp_path / "m.pt")
    again, hist = lab.load(path)
    tokens = lab.encode("print('hello')\n")[None, :]
    with torch.no_grad():
        assert torch.equal(again(tokens), model(tokens))
    assert hist["loss"] == history["loss"]
    with pytest.raises(ValueError, match="path"):
        lab.load(tmp_path / "missing.pt")


def test_bad_input_names_the_argument(trained):
    model, _ = trained
    with pytest.raises(ValueError, match="task"):
        lab.evaluate(model, "rope", 64, "summaries")
    with pytest.raises(ValueError, match="name"):
        lab.evaluate(model, "alibi", 64, "text")
    with pytest.raises(ValueError, match="tokens"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="d_model"):
        lab.LabConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="position"):
        lab.LabConfig(position="alibi")
    with pytest.raises(ValueError, match="leak"):
        lab.Method(leak=4.0)
    with pytest.raises(ValueError, match="sinks"):
        lab.Method(sinks=4)


# --- evaluation and the study ------------------------------------------------------------------------------------


def test_evaluate_is_reproducible_and_splits_copyable_characters(trained):
    model, _ = trained
    a = lab.evaluate(model, "rope", 48, "repeat", samples=4, batch=2)
    b = lab.evaluate(model, "rope", 48, "repeat", samples=4, batch=4)
    assert a == pytest.approx(b, rel=1e-5)
    n_copy, n_fresh = 48 - 24 + 1, 24 - 1  # period (48 + 1) // 2 = 24: targets 1 .. 48, copyable from 24 on
    mixed = (n_copy * a["copy_accuracy"] + n_fresh * a["fresh_accuracy"]) / 48
    assert a["accuracy"] == pytest.approx(mixed, rel=1e-6)
    key = lab.evaluate(model, "rope", 48, "passkey", samples=4)
    assert 0.0 <= key["exact"] <= key["accuracy"] <= 1.0


def test_reduced_study_end_to_end(tmp_path):
    result = lab.run("reduced", tmp_path, checkpoints=tmp_path / "ckpt", device="cpu", progress=False)
    study = lab.studies()["reduced"]
    expected_rows = sum(len(names) for _, names in study.models.values()) * len(study.lengths) * len(lab.TASKS)
    assert len(result["rows"]) == expected_rows
    loaded = lab.load_results(tmp_path / "results.json")
    assert loaded["rows"] == json.loads(json.dumps(result["rows"]))
    assert (tmp_path / "results.csv").read_text().count("\n") == expected_rows + 1
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["versions"]["torch"] == torch.__version__ and meta["command"].startswith("python -m attnviz.lab")
    assert (tmp_path / "ckpt" / "rope.pt").is_file()
    grid = lab.table(loaded, "rope", 64)
    assert set(grid) == set(study.models["rope"][1]) and set(grid["rope"]) == set(lab.TASKS)
    assert all(0.0 <= v <= 1.0 for row in grid.values() for v in row.values())


def test_committed_results_are_the_full_study():
    result = lab.load_results()
    meta, study = result["meta"], lab.studies()["full"]
    assert meta["study"] == "full" and meta["lengths"] == list(study.lengths)
    expected_rows = sum(len(names) for _, names in study.models.values()) * len(study.lengths) * len(lab.TASKS)
    assert len(result["rows"]) == expected_rows
    for name, (cfg, _) in study.models.items():
        assert meta["models"][name]["config"] == dataclasses.asdict(cfg)
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["loss"] > 0 for r in result["rows"])
    assert meta["seconds"] < 30 * 60  # the budget for the whole comparison on the 2-core machine
