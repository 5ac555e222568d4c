"""attnviz.metrics: the contract names of BOOK.md against direct formulas, per-head statistics, and no import cycle."""

import ast
import importlib.util
import math
from pathlib import Path

import pytest
import torch

from attnviz import metrics

F64 = torch.float64
STATISTICS = (  # the modules on the statistics side of the package
    "attnviz.entropy",
    "attnviz.streaming",
    "attnviz.random_models",
    "attnviz.sparsity",
    "attnviz.sparsity.measures",
    "attnviz.sparsity.axioms",
    "attnviz.sparsity_limits",
    "attnviz.focus",
    "attnviz.normalize",
    "attnviz.bayes",
    "attnviz.metrics",
)


def test_contract_entropy_and_effective_support():
    p = torch.softmax(torch.randn(3, 9, generator=torch.Generator().manual_seed(0), dtype=F64), 0)
    direct = -(p * p.log()).sum(0)
    assert torch.allclose(metrics.entropy(p, dim=0), direct, rtol=0, atol=1e-14)
    assert torch.allclose(metrics.effective_support(p, dim=0), direct.exp(), rtol=1e-14, atol=0)


def test_contract_sparsity_kind_and_dim():
    x = torch.rand(7, 4, generator=torch.Generator().manual_seed(1), dtype=F64)  # rows along dim 0
    n, l1, l2 = 7, x.sum(0), x.norm(dim=0)
    hoyer = (math.sqrt(n) - l1 / l2) / (math.sqrt(n) - 1)
    assert torch.allclose(metrics.sparsity(x, "hoyer", dim=0), hoyer, rtol=0, atol=1e-14)
    assert torch.allclose(metrics.sparsity(x, "s0", 0), l1 / n / x.amax(0), rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="kind must be one of"):
        metrics.sparsity(x, "no-such-measure")


@pytest.mark.parametrize("causal", [False, True])
def test_contract_streaming_row_entropy(causal):
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(2, 5, 8, generator=gen, dtype=F64), torch.randn(2, 11, 8, generator=gen, dtype=F64)
    s = q @ k.mT / math.sqrt(8)  # (2, 5, 11)
    if causal:  # query i sees keys j <= i, top-left aligned
        s = s.masked_fill(torch.arange(11) > torch.arange(5)[:, None], -math.inf)
    want = torch.special.entr(torch.softmax(s, -1)).sum(-1)
    assert torch.allclose(metrics.streaming_row_entropy(q, k, causal=causal, block=3), want, rtol=0, atol=1e-12)


def causal_logits(n: int) -> torch.Tensor:
    """Equal logits on the visible keys: row i is uniform over i + 1 keys."""
    return torch.zeros(n, n, dtype=F64).masked_fill(torch.ones(n, n).triu(1).bool(), -math.inf)


def test_head_stats_uniform_causal_rows():
    n = 6
    stats = metrics.head_stats(causal_logits(n), skip=1)
    rows = torch.arange(2, n + 1, dtype=F64)  # keys seen by rows 1 .. n-1
    one, zero = torch.tensor(1.0, dtype=F64), torch.tensor(0.0, dtype=F64)
    assert torch.allclose(stats["entropy"], rows.log().mean(), rtol=0, atol=1e-14)
    assert torch.allclose(stats["normalized entropy"], one, rtol=0, atol=1e-14)
    assert torch.allclose(stats["hoyer"], zero, rtol=0, atol=1e-12)
    assert torch.allclose(stats["gini"], zero, rtol=0, atol=1e-12)
    assert torch.allclose(stats["sink"], (1 / rows).mean(), rtol=0, atol=1e-15)


def test_head_stats_one_hot_sink_and_batch_shape():
    logits = torch.full((2, 3, 5, 5), -30.0, dtype=F64)
    logits[..., 0] = 30.0  # every row puts (almost) all its weight on key 0
    stats = metrics.head_stats(logits)
    assert all(value.shape == (2, 3) for value in stats.values())
    assert torch.allclose(stats["sink"], torch.ones(2, 3, dtype=F64), rtol=0, atol=1e-20)
    assert float(stats["entropy"].max()) < 1e-20 and float(stats["hoyer"].min()) > 1 - 1e-12
    assert torch.allclose(stats["gini"], torch.full((2, 3), 1 - 1 / 5, dtype=F64), rtol=0, atol=1e-14)


def test_head_stats_skip_zero_keeps_single_key_rows_out_of_ratios():
    stats = metrics.head_stats(causal_logits(4), skip=0)
    assert torch.allclose(stats["normalized entropy"], torch.tensor(1.0, dtype=F64), rtol=0, atol=1e-14)  # no NaN
    sink = torch.tensor((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4, dtype=F64)
    assert torch.allclose(stats["sink"], sink, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match=r"skip must be an int in \[0, 2\]"):
        metrics.head_stats(torch.zeros(3, 3), skip=3)


def test_rank_correlation_closed_forms():
    x = torch.tensor([0.1, 0.5, 0.2, 0.9, 0.3], dtype=F64)
    assert metrics.rank_correlation(x, x.exp()) == pytest.approx(1.0, abs=1e-15)  # any increasing map
    assert metrics.rank_correlation(x, -x) == pytest.approx(-1.0, abs=1e-15)
    y = torch.tensor([0.1, 0.3, 0.2, 0.9, 0.5], dtype=F64)  # ranks 0 2 1 4 3 vs 0 3 1 4 2
    assert metrics.rank_correlation(x, y) == pytest.approx(1 - 6 * 2 / (5 * 24), abs=1e-15)  # Spearman's formula
    with pytest.raises(ValueError, match="same shape"):
        metrics.rank_correlation(x, x[:3])
    with pytest.raises(ValueError, match="finite"):
        metrics.rank_correlation(x, x.clone().fill_(math.nan))


def _local_imports(module: str) -> set[str]:
    """The attnviz modules ``module`` imports anywhere in its source (also inside functions)."""
    spec = importlib.util.find_spec(module)
    package = module if spec.submodule_search_locations else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
            is_package = importlib.util.find_spec(target).submodule_search_locations is not None
            for alias in node.names:  # from . import x, from .pkg import x: x may be a module
                sub = f"{target}.{alias.name}"
                found.add(sub if is_package and importlib.util.find_spec(sub) is not None else target)
        elif isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found.update(name for name in names if name.startswith("attnviz."))
    return found


def test_no_import_cycle_on_the_statistics_side():
    """entropy is a leaf; metrics imports sparsity at the top, and nothing of the statistics side imports metrics."""
    graph = {module: _local_imports(module) & set(STATISTICS) for module in STATISTICS}
    assert graph["attnviz.entropy"] == set()
    assert not [module for module, deps in graph.items() if "attnviz.metrics" in deps]
    done, active = set(), []

    def visit(module):
        assert module not in active, f"import cycle: {' -> '.join([*active, module])}"
        if module not in done:
            active.append(module)
            for dep in graph[module]:
                visit(dep)
            active.pop()
            done.add(module)

    for module in STATISTICS:
        visit(module)
