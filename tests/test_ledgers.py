"""Claims ledgers: the module's verdicts, the chapters' ledgers read statically, and the generated pages."""

import ast
import importlib.util

import pytest

from attnviz import ledger
from tests.ledger_scan import ROOT, can_fail, scans

# Chapters whose ledger is still to be written (issue "Every claim accounted for"); the list only shrinks.
PENDING: set[str] = set()

SCANS = {s.path.stem: s for s in scans()}
WITH_LEDGER = sorted(name for name, s in SCANS.items() if s.entries)


def _ledger():
    return ledger.Ledger("demo", {"8265": "Transformer升级之路：2、博采众长的旋转式位置编码"})


def test_verdicts_are_computed_from_what_the_chapter_measured():
    led = _ledger()
    kw = {"post": 8265, "where": "§2", "text": "a claim", "evidence": "max |Δ| = 1e-15"}
    assert led.check("8265.1", cell="a", holds=True, **kw) is None  # nothing echoed under a ledger cell
    led.check("8265.2", cell="b", holds=False, **kw)
    led.check("8265.3", cell="c", holds=True, caveat="on average only", **kw)
    led.check("8265.4", cell="d", holds=True, shown=True, **kw)
    led.not_checkable("8265.5", post=8265, where="§5", text="a 100M run", reason="too big")
    verdicts = [(c.verdict, c.treatment) for c in led.claims]
    assert verdicts == [
        ("holds", "asserted"),
        ("does not hold", "asserted"),
        ("holds with caveat", "asserted"),
        ("holds", "shown"),
        ("not checkable here", "not checkable"),
    ]
    assert led.coverage() == {"8265": {"claims": 5, "checkable": 4, "asserted": 3, "shown": 1}}
    assert "asserts 3 of the 4 checkable claims of post 8265 (1 more are not checkable here)" in led.coverage_text()


@pytest.mark.parametrize(
    ("difference", "se", "verdict"),
    [
        (0.05, 0.02, "holds"),
        (0.039, 0.02, "inconclusive at this scale"),
        (-0.05, 0.02, "does not hold"),
        (0, 0, "inconclusive at this scale"),
    ],
)
def test_experimental_verdict_needs_two_standard_errors(difference, se, verdict):
    assert ledger.compare(difference, se) == verdict
    led = _ledger()
    led.experiment(
        "8265.9",
        post="8265",
        where="§7",
        text="x beats y",
        cell="e",
        difference=difference,
        standard_error=se,
        evidence="3 seeds",
    )
    claim = led.claims[-1]
    assert claim.verdict == verdict and f"± {se:.2g}" in claim.evidence


def test_bad_ledger_input_names_the_argument():
    led = _ledger()
    kw = {"post": 8265, "where": "§2", "text": "t", "evidence": "e"}
    with pytest.raises(ValueError, match="holds must be a bool"):
        led.check("a", cell="a", holds=1, **kw)
    with pytest.raises(ValueError, match="cell must be the label"):
        led.check("a", cell="Not a label", holds=True, **kw)
    with pytest.raises(ValueError, match="post must be one of"):
        led.check("a", cell="a", holds=True, **(kw | {"post": 9999}))
    cited = ledger.Ledger("demo", {"8265": "t"}, cited={"9999": "another post"})
    cited.check("a", cell="a", holds=False, erratum=True, **(kw | {"post": 9999}))
    assert cited.coverage() == {"8265": {"claims": 0, "checkable": 0, "asserted": 0, "shown": 0}}
    led.check("a", cell="a", holds=True, **kw)
    with pytest.raises(ValueError, match="already in the ledger"):
        led.check("a", cell="a", holds=True, **kw)
    with pytest.raises(ValueError, match="standard_error must be >= 0"):
        ledger.compare(0.1, -1.0)


def test_table_escapes_pipes_and_carries_the_verdict():
    led = _ledger()
    led.check("8265.1", post=8265, where="eq. (3)", text="|q| = |k|", cell="norms", holds=False, evidence="2 > 1")
    table = led.table()
    assert "\\|q\\| = \\|k\\|" in table and "does not hold" in table and "| `norms` |" in table


@pytest.mark.parametrize("name", WITH_LEDGER)
def test_ledger_is_honest(name):
    """Asserted claims point at a cell whose check can fail; verdict inputs are computed, never literals."""
    scan = SCANS[name]
    assert scan.posts and sorted(scan.posts) == sorted(scan.ledger_posts), "notebook metadata attnviz.posts"
    assert "{glue:text}`ledger-coverage`" in scan.card, "the source card must state the computed coverage"
    assert scan.published, "the ledger must be published (Ledger.publish) under 'What we found'"
    for entry in scan.entries:
        for literal in ("holds", "difference", "standard_error"):
            node = entry.keywords.get(literal)
            assert not isinstance(node, ast.Constant), f"{entry.line}: {literal} typed, not computed"
        if entry.method == "not_checkable":
            continue
        label = entry.value("cell")
        assert label in scan.cells, f"{entry.line}: no code cell starts with '# check: {label}'"
        if entry.value("shown") is not True:
            assert can_fail(scan.cells[label]), f"{entry.line}: cell {label} asserts nothing that could fail"


@pytest.mark.parametrize("name", WITH_LEDGER)
def test_every_home_post_is_at_least_ninety_percent_asserted(name):
    assert SCANS[name].coverage(), "no home post found in Ledger(chapter, posts={...})"
    for post, c in SCANS[name].coverage().items():
        assert c["checkable"] and c["asserted"] / c["checkable"] >= ledger.COVERAGE_TARGET, (post, c)


def test_every_chapter_has_a_ledger_or_is_listed_as_pending():
    missing = {name for name, s in SCANS.items() if not s.entries}
    assert missing == PENDING, f"without a ledger: {sorted(missing)}; pending list: {sorted(PENDING)}"


def _pages():
    spec = importlib.util.spec_from_file_location("ledgers", ROOT / "book" / "_ext" / "ledgers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pages_list_each_claim_once_under_its_verdict():
    pytest.importorskip("docutils", reason="book/_ext needs the book's toolchain (requirements.txt)")
    led = _ledger()
    led.check("8265.1", post=8265, where="§2", text="rotation", cell="rot", holds=True, evidence="3e-15")
    led.check(
        "8265.2",
        post=8265,
        where="§4",
        text="decay",
        cell="decay",
        holds=True,
        caveat="on average",
        evidence="115 rises",
    )
    led.check("8265.3", post=8265, where="§5", text="theta fixed", cell="theta", holds=False, evidence="half move")
    data = [dict(led.to_json(), slug="rope-rotation")]
    pages = _pages()
    claims, errata = pages.claims_page(data), pages.errata_page(data)
    assert claims.count("| 8265 | §") == 3 and "## Holds with caveat (1)" in claims and "## Does not hold (1)" in claims
    assert 'href="../notebooks/rope-rotation.html#check-decay"' in claims
    assert "theta fixed" in errata and "| decay |" in errata and "| rotation |" not in errata


def test_publish_glues_the_coverage_the_way_myst_nb_reads_it():
    pytest.importorskip("myst_nb", reason="the glue protocol is myst-nb's, part of the book's toolchain")
    from IPython.core.interactiveshell import InteractiveShell
    from myst_nb.ext.glue import GLUE_PREFIX

    shown = []
    shell = InteractiveShell.instance()
    shell.display_pub.publish = lambda data, metadata=None, **kw: shown.append((data, metadata))
    led = _ledger()
    led.check("8265.1", post=8265, where="§2", text="rotation", cell="rot", holds=True, evidence="3e-15")
    led.publish()
    (table, _), (glued, meta) = shown
    assert "rotation" in table["text/markdown"] and table[ledger.MIME]["claims"][0]["id"] == "8265.1"
    assert GLUE_PREFIX == ledger.GLUE_PREFIX and meta["scrapbook"]["name"] == "ledger-coverage"
    assert "asserts 1 of the 1 checkable claims of post 8265" in glued[GLUE_PREFIX + "text/plain"]
