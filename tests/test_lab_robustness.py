"""attnviz.lab.robustness: the 9444 experiment's model, arms, scoring and files (a reduced run; the chapter reads
the committed full run)."""

import json

import pytest
import torch

from attnviz import che
from attnviz.lab import robustness as rb


def test_positions_of_each_arm():
    gen = torch.Generator().manual_seed(0)
    plain = rb.positions_for(rb.RobustConfig(arm="logn"), 3, 7, gen)
    assert torch.equal(plain, torch.arange(7).expand(3, 7))
    drawn = rb.positions_for(rb.RobustConfig(arm="random", pool=50), 3, 7, gen)
    assert drawn.shape == (3, 7) and bool((drawn.diff(dim=-1) > 0).all()) and int(drawn.max()) < 50
    assert not torch.equal(drawn[0], drawn[1])  # each sequence draws its own positions
    with pytest.raises(ValueError, match="longer than the position pool"):
        rb.positions_for(rb.RobustConfig(arm="random", pool=50), 1, 51, gen)


def test_outputs_have_the_answers_shape_and_ignore_where_the_positions_start():
    cfg = rb.RobustConfig(task="reverse_string", d_model=16, n_heads=2)
    torch.manual_seed(0)
    model = rb.Encoder(cfg).eval()
    x, y = che.sample("reverse_string", 2, 9, generator=torch.Generator().manual_seed(1))
    pos = torch.arange(11).expand(2, 11)
    out = model(x, pos)
    assert out.shape == (2, 9, 2) and y.shape == (2, 9)
    assert torch.allclose(model(x, pos + 100), out, rtol=0, atol=1e-4)  # RoPE: only differences matter
    one = rb.Encoder(rb.RobustConfig(task="parity_check", d_model=16, n_heads=2)).eval()
    assert one(x, pos).shape == (2, 1, 2)


def test_bad_settings_name_the_argument():
    for kwargs, match in [
        ({"task": "sorting"}, "task must be one of"),
        ({"arm": "alibi"}, "arm must be one of"),
        ({"d_model": 30, "n_heads": 4}, "d_model must be a multiple"),
        ({"train_max": 300}, "train_max must be in"),
    ]:
        with pytest.raises(ValueError, match=match):
            rb.RobustConfig(**kwargs)


@pytest.mark.slow
def test_a_reduced_run_writes_what_the_chapter_reads(tmp_path):
    kw = {"d_model": 16, "n_heads": 2, "n_layers": 1, "steps": 20, "batch": 8}
    got = rb.run(
        tmp_path, tasks=("even_pairs",), arms=("plain", "random"), seeds=(0, 1), lengths=(10, 30), samples=5, **kw
    )
    again = rb.run(
        tmp_path / "again",
        tasks=("even_pairs",),
        arms=("plain", "random"),
        seeds=(0, 1),
        lengths=(10, 30),
        samples=5,
        **kw,
    )
    assert got["rows"] == again["rows"]  # deterministic given the seeds
    results, meta = rb.load_robustness(tmp_path)
    assert results == json.loads(json.dumps(got)) and meta["seeds"] == [0, 1]
    assert len(results["rows"]) == 2 * 2 * 2 and all(len(r["correct"]) == 5 for r in results["rows"])
    mean, se, seeds = rb.accuracy(results, "even_pairs", "random", 30)
    assert seeds == 2 and 0 <= mean <= 1 and se >= 0
    with pytest.raises(ValueError, match="no results"):
        rb.accuracy(results, "even_pairs", "logn", 30)
