"""attnviz.lab.data: characters, the standard-library corpus and the batches of the three tasks."""

import pytest
import torch

from attnviz import lab


def test_encode_decode_round_trip_and_unknown_characters():
    ids = lab.encode("def f(x):\n\treturn x  # é")
    assert ids.dtype == torch.int64 and int(ids.max()) < lab.VOCAB
    assert lab.decode(ids) == "def f(x):\n    return x  # ?"
    assert lab.decode([lab.KEY, lab.END, lab.UNKNOWN, lab.VOCAB + 5]) == "«»??"
    with pytest.raises(ValueError, match="text"):
        lab.encode(b"bytes")


def test_corpus_is_the_standard_library_split_by_file():
    train, test = lab.corpus("train"), lab.corpus("test")
    assert train.numel() > 1_000_000 and test.numel() > 100_000
    assert lab.decode(test[:2000]).count("import") >= 1
    files = lab.corpus_files()
    assert len(files) >= 16 and files == sorted(files)
    with pytest.raises(ValueError, match="split"):
        lab.corpus("validation")


def test_text_batch_windows_come_from_the_text():
    gen = torch.Generator().manual_seed(0)
    text = lab.corpus("test")
    data = lab.text_batch(text, 3, 20, gen)
    assert data["tokens"].shape == (3, 21) and not bool(data["copyable"].any())
    for row in data["tokens"]:  # each row is a contiguous window of the corpus
        starts = (text[:-20] == row[0]).nonzero().flatten()
        assert any(torch.equal(text[s : s + 21], row) for s in starts.tolist())


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


def test_task_batch_dispatches_on_the_task():
    text = lab.corpus("test")
    for task, batch_fn in (("text", lab.text_batch), ("repeat", lab.repeat_batch), ("passkey", lab.passkey_batch)):
        got = lab.task_batch(task, text, 2, 48, torch.Generator().manual_seed(3))
        want = batch_fn(text, 2, 48, torch.Generator().manual_seed(3))
        assert got.keys() == want.keys() and all(torch.equal(got[key], want[key]) for key in got)
    with pytest.raises(ValueError, match="task"):
        lab.task_batch("summaries", text, 1, 48, torch.Generator())


def test_training_batch_mixes_text_repeats_and_passkeys():
    gen = torch.Generator().manual_seed(1)
    tokens = lab.training_batch(lab.corpus("train"), 16, 64, gen)
    assert tokens.shape == (16, 65) and tokens.dtype == torch.int64
    rows = [lab.decode(row) for row in tokens]
    n_rep = n_key = 16 * 3 // 8  # 6 repeated rows, then 6 passkeys; the first 4 rows are plain text
    assert all(text.count("«") == 2 and text.count("»") == 1 for text in rows[-n_key:])
    for row in tokens[4 : 4 + n_rep]:  # each repeats with some period in [4, 32]
        assert any(torch.equal(row[p:], row[:-p]) for p in range(4, 33))
