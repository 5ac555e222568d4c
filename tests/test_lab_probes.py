"""attnviz.lab.probes: the chapter's per-model probes and their three-seed file."""

import dataclasses
import json

import pytest
import torch

from attnviz import lab


def _tiny(seed: int = 0, position: str = "rope") -> lab.TinyLM:
    torch.manual_seed(seed)
    cfg = lab.LabConfig(d_model=16, n_layers=1, n_heads=2, position=position, steps=1, batch=1, seed=seed)
    return lab.TinyLM(cfg).eval()


def test_uniform_attention_has_no_first_token_excess():
    model = _tiny()
    with torch.no_grad():
        for block in model.modules():
            if isinstance(block, lab.Attention):
                block.qkv.weight[: 2 * model.cfg.d_model] = 0  # q = k = 0: every logit 0, uniform rows
    excess = lab.first_token_excess(model, samples=3)
    assert len(excess) == 3 and max(abs(e) for e in excess) < 1e-6
    random = [abs(e) for seed in range(3) for e in lab.first_token_excess(_tiny(seed), samples=3)]
    assert max(random) > 1e-5  # random weights are not uniform (4e-5 to 1e-3 over seeds and torch versions)


def test_probes_shapes_and_cross_checks():
    model = _tiny()
    got = lab.probes(model, samples=4, batch=2)
    assert set(got) == {"segment", "sinks", "ntk8", "yarn"}
    assert all(len(v) == 4 for by_c in got["segment"].values() for v in by_c.values())
    window = got["segment"]["window"]  # one layer, a 64-key window: context beyond 64 is never seen
    assert window["256"] == pytest.approx(window["512"], abs=2e-6)
    plain = lab.evaluate(model, "rope", 64, "text", samples=4, batch=2)["per_sample"]["loss"]
    assert got["ntk8"]["64"] == pytest.approx(plain, abs=1e-6)
    assert set(got["yarn"]) == {"const", "logn"} and all(0 <= a <= 1 for v in got["yarn"].values() for a in v)
    assert len(got["sinks"]) == 4 and set(got["ntk8"]) == {"64", "256", "512"}


def test_at_factor_keeps_the_weights_and_sets_the_factor():
    model = _tiny()
    twin = lab.at_factor(model, 256)
    assert twin.cfg == dataclasses.replace(model.cfg, train_len=32)
    tokens = torch.randint(0, lab.VOCAB, (1, 64))
    with torch.no_grad():  # at n = 64 PI squeezes by 2 for the twin (L = 32), by 1 for the model
        assert not torch.allclose(twin(tokens, "pi"), model(tokens, "pi"), rtol=0, atol=1e-6)
        assert torch.allclose(twin(tokens[:, :32], "rope"), model(tokens[:, :32], "rope"), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="n must be"):
        lab.at_factor(model, 100)


def test_run_probes_writes_every_seed_and_checks_the_files(tmp_path):
    for seed in (0, 1):
        lab.save(_tiny(seed), {"loss": [1.0], "seconds": 0.0}, tmp_path / ("rope.pt" if seed == 0 else "rope-seed1.pt"))
    out = tmp_path / "extra.json"
    result = lab.run_probes(tmp_path, out, seeds=(0, 1), samples=2)
    assert json.loads(out.read_text()) == result == lab.load_probes(out)
    assert set(result["seeds"]) == {"0", "1"} and result["seeds"]["0"] != result["seeds"]["1"]
    with pytest.raises(ValueError, match="checkpoints"):
        lab.run_probes(tmp_path, seeds=(0, 2))
    lab.save(_tiny(0), {"loss": [1.0], "seconds": 0.0}, tmp_path / "rope-seed1.pt")  # seed 0 under seed 1's name
    with pytest.raises(ValueError, match="holds seed 0"):
        lab.run_probes(tmp_path, seeds=(1,))
