"""toys: the training loop is seeded and optimizes; each task's batches, loss and models do what they claim."""

import math

import pytest
import torch
from torch import nn

from attnviz import toys


class Oracle(nn.Module):
    """Copy-task model that reads the answer off the input: logits 50 at token t - lag (wraps for t < lag)."""

    def __init__(self, vocab: int, lag: int) -> None:
        super().__init__()
        self.vocab, self.lag = vocab, lag
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, tokens, start=0):
        return 50.0 * nn.functional.one_hot(tokens.roll(self.lag, dims=1), self.vocab).float() + self.dummy


def test_fit_minimises_a_known_quadratic():
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    target = torch.tensor([[3.0]])

    def loss_fn(m, _):
        return ((m.weight - target) ** 2).sum()

    history = toys.fit(model, lambda gen: None, loss_fn, steps=400, lr=0.05, seed=0)
    assert len(history) == 400 and history[0] == pytest.approx(9.0, abs=1e-6)  # the loss before the first step
    assert abs(model.weight.item() - 3.0) < 1e-2 and history[-1] < 1e-3


def test_fit_draws_batches_from_the_seeded_generator():
    drawn = []
    model = nn.Linear(1, 1)

    def batch_fn(gen):
        drawn.append(torch.rand(2, generator=gen))
        return drawn[-1]

    toys.fit(model, batch_fn, lambda m, b: m(b[:, None]).sum(), steps=3, lr=0.1, seed=7)
    expected = torch.rand(3, 2, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.stack(drawn), expected)


def test_fit_is_deterministic_per_seed():
    task = toys.RetrievalTask(d=8, length=16, batch_size=8)

    def run(seed):
        return toys.fit(toys.Retriever(8, seed=0), task.batch, task.loss, steps=5, lr=1e-2, seed=seed)

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_seeded_models_ignore_and_keep_the_global_rng():
    torch.manual_seed(123)
    a = toys.Lookup(16, 8, seed=0)
    after_a = torch.rand(3)
    torch.manual_seed(123)
    b = toys.Lookup(16, 8, seed=0)
    assert torch.equal(after_a, torch.rand(3))  # building a seeded model did not move the global RNG
    torch.manual_seed(999)
    c = toys.Lookup(16, 8, seed=0)
    d = toys.Lookup(16, 8, seed=1)
    for p_a, p_b, p_c in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(p_a, p_b) and torch.equal(p_a, p_c)
    assert not torch.equal(a.emb.weight, d.emb.weight)


def test_copy_task_batches_and_loss_alignment():
    task = toys.CopyTask(vocab=11, length=20, lag=4, batch_size=6)
    tokens = task.batch(torch.Generator().manual_seed(0))
    assert tokens.shape == (6, 20) and tokens.dtype == torch.long
    assert int(tokens.min()) >= 0 and int(tokens.max()) < 11
    assert task.batch(torch.Generator().manual_seed(0), 50).shape == (50, 20)
    assert task.loss(Oracle(11, 4), tokens).item() < 1e-6  # the answer at t is the token at t - lag
    assert task.loss(Oracle(11, 3), tokens).item() > 1.0  # a wrong lag is punished
    assert task.accuracy(Oracle(11, 4), size=64) == 1.0
    uniform = task.loss(lambda t: torch.zeros(*t.shape, 11), tokens)
    assert abs(uniform.item() - math.log(11)) < 1e-6


def test_lookup_is_causal_and_rope_is_shift_invariant():
    torch.manual_seed(0)
    tokens = torch.randint(0, 16, (2, 12))
    changed = tokens.clone()
    changed[:, 8] = (changed[:, 8] + 1) % 16
    with torch.no_grad():
        for pe in toys.PE_KINDS:
            model = toys.Lookup(16, 8, pe=pe, seed=0)
            out, out_changed = model(tokens), model(changed)
            assert torch.equal(out[:, :8], out_changed[:, :8]) and not torch.equal(out[:, 8:], out_changed[:, 8:])
        rope = toys.Lookup(16, 8, pe="rope", seed=0)
        assert (rope(tokens, 0) - rope(tokens, 1000)).abs().max() < 1e-3  # only relative positions matter
        sine = toys.Lookup(16, 8, pe="sinusoidal", seed=0)
        assert (sine(tokens, 0) - sine(tokens, 1000)).abs().max() > 1e-2
    assert toys.Lookup(16, 8, pe="rope-learned").log_theta.requires_grad
    assert not toys.Lookup(16, 8, pe="rope").log_theta.requires_grad


def test_recall_batches():
    task = toys.RecallTask(keys=20, values=5, pairs=12, batch_size=30)
    b = task.batch(torch.Generator().manual_seed(0))
    assert b.keys.shape == b.vals.shape == (30, 12) and b.query.shape == b.target.shape == b.pick.shape == (30,)
    assert all(len(set(row.tolist())) == 12 for row in b.keys)  # distinct keys in every sequence
    assert int(b.keys.max()) < 20 and int(b.vals.max()) < 5
    rows = torch.arange(30)
    assert torch.equal(b.query, b.keys[rows, b.pick]) and torch.equal(b.target, b.vals[rows, b.pick])
    assert abs(task.loss(lambda k, v, q: torch.zeros(len(q), 5), b).item() - math.log(5)) < 1e-6


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_recall_rows_are_distributions(kind):
    task = toys.RecallTask(keys=20, values=5, pairs=12)
    b = task.batch(torch.Generator().manual_seed(1), 40)
    model = toys.Recall(20, 5, 8, kind)
    score = task.evaluate(model, b)
    assert score.rows.shape == (40, 12) and bool((score.rows >= 0).all())
    assert torch.allclose(score.rows.sum(-1), torch.ones(40, dtype=torch.float64), atol=1e-6, rtol=0)
    assert 0.0 <= score.accuracy <= 1.0
    on_target = score.rows[torch.arange(40), b.pick].median().item()
    assert score.on_target == on_target


def test_retrieval_batches_and_scales():
    task = toys.RetrievalTask(d=8, length=16, batch_size=5)
    b = task.batch(torch.Generator().manual_seed(0))
    assert b.x.shape == (5, 16, 8) and b.y.shape == (5, 16) and b.pick.shape == (5,)
    assert torch.equal(b.target, b.y[torch.arange(5), b.pick])
    assert task.batch(torch.Generator().manual_seed(0), 3, n=40).x.shape == (3, 40, 8)
    perfect = task.loss(lambda x, y, pick: (y[torch.arange(len(pick)), pick], None), b)
    assert perfect.item() == 0.0
    at_512 = task.batch(torch.Generator().manual_seed(1), 2, n=512)
    standard, entropic = toys.Retriever(8, "standard", seed=0), toys.Retriever(8, "entropy", seed=0)
    with torch.no_grad():  # log_512(512) = 1: the two scales agree at the training length 512 only
        assert torch.allclose(standard(*at_512)[1], entropic(*at_512)[1], atol=1e-7, rtol=0)
        short = task.batch(torch.Generator().manual_seed(1), 2, n=8)
        assert (standard(*short)[1] - entropic(*short)[1]).abs().max() > 1e-4


def test_retrieval_evaluate_lengths():
    task = toys.RetrievalTask(d=8, length=16)
    score = task.evaluate(toys.Retriever(8), [4, 32], size=20)
    assert len(score.mse) == len(score.weight) == len(score.entropy) == 2
    assert 0 < score.entropy[0] <= math.log(4) + 1e-6 and score.entropy[1] <= math.log(32) + 1e-6


@pytest.mark.slow
@pytest.mark.parametrize(
    "task, model, lr, steps",
    [
        (toys.CopyTask(), toys.Lookup(16, 32, pe="rope"), 3e-3, 150),
        (toys.RecallTask(), toys.Recall(64, 16, 16, "softmax"), 1e-2, 400),
        (toys.RetrievalTask(), toys.Retriever(32, "entropy"), 1e-2, 150),
    ],
    ids=["copy", "recall", "retrieval"],
)
def test_loss_falls_on_each_task(task, model, lr, steps):
    history = toys.fit(model, task.batch, task.loss, steps=steps, lr=lr, seed=1)
    start, end = sum(history[:10]) / 10, sum(history[-10:]) / 10
    assert end < 0.3 * start, (start, end)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: toys.CopyTask(lag=0), "lag must be >= 1"),
        (lambda: toys.CopyTask(length=8, lag=8), "lag must be < length"),
        (lambda: toys.RecallTask(keys=10, pairs=11), "pairs must be <= keys"),
        (lambda: toys.RetrievalTask(d=0), "d must be >= 1"),
        (lambda: toys.CopyTask().batch(torch.Generator(), size=0), "size must be >= 1"),
        (lambda: toys.RetrievalTask().batch(torch.Generator(), n=1.5), "n must be an int"),
        (lambda: toys.Lookup(16, 8, pe="alibi"), "pe must be one of"),
        (lambda: toys.Lookup(16, 7), "d_model must be even"),
        (lambda: toys.Recall(8, 4, 8, kind="sigmoid"), "kind must be one of"),
        (lambda: toys.Recall(8, 4, 8, "linear", features="gelu"), "features must be one of"),
        (lambda: toys.Retriever(8, scale="log"), "scale must be one of"),
        (lambda: toys.Lookup(16, 8, seed=-1), "seed must be an int >= 0"),
        (lambda: toys.fit(toys.Retriever(4), lambda g: 0, lambda m, b: m.gain, steps=0, lr=1, seed=0), "steps must be"),
        (lambda: toys.fit(toys.Retriever(4), lambda g: 0, lambda m, b: m.gain, steps=1, lr=0, seed=0), "lr must be >"),
        (lambda: toys.fit(toys.Retriever(4), lambda g: 0, lambda m, b: m.gain, steps=1, lr=1, seed=-2), "seed must be"),
        (lambda: toys.fit(lambda x: x, lambda g: 0, lambda m, b: 0, steps=1, lr=1, seed=0), "model must be a torch.nn"),
        (lambda: toys.fit(toys.Retriever(4), 3, lambda m, b: 0, steps=1, lr=1, seed=0), "batch_fn must be callable"),
        (
            lambda: toys.fit(
                toys.Retriever(4), lambda g: 0, lambda m, b: m.bias * torch.ones(2), steps=1, lr=1, seed=0
            ),
            "loss_fn must return a 0-d tensor",
        ),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
