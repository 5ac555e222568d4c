"""Pages generated from the chapters' claims ledgers at build time: the Claims index and the errata.

Each chapter publishes its ledger (``attnviz.ledger.Ledger.publish``) as an output of MIME type
``application/vnd.attnviz.ledger+json``. ``make book`` executes every chapter into the jupyter cache before
Sphinx starts, so this extension reads the ledgers from the cached executions and, when Sphinx reads
``book/claims.md`` or ``book/errata.md``, replaces the line ``<!-- ledger: claims -->`` (or ``errata``) with
the generated tables. It also gives every code cell whose first line is ``# check: <label>`` the HTML
anchor ``check-<label>``, so that each claim links to the cell that checks it. No finding is typed twice:
the chapters' ledgers are the only source.
"""

from __future__ import annotations

import html
from pathlib import Path

from docutils import nodes

from attnviz.ledger import MIME
from attnviz.ledger import _markdown_cell as _cell

ORDER = ("does not hold", "holds with caveat", "inconclusive at this scale", "holds", "not checkable here")


def read_ledgers(root: Path, cache: Path) -> list[dict]:
    """The ledgers of the chapters in notebooks/ whose current code has an execution in ``cache``."""
    import nbformat
    from jupyter_cache import get_cache

    found = []
    store = get_cache(cache)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        try:
            record = store.match_cache_notebook(nbformat.read(str(path), as_version=4))
        except KeyError:
            raise RuntimeError(
                f"{path.name} has no cached execution: run `make book`, which executes it first"
            ) from None
        nb = store.get_cache_bundle(record.pk).nb
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if MIME in data:
                    found.append(dict(data[MIME], slug=path.stem))
    return found


def _link(ledger: dict, claim: dict) -> str:
    if not claim.get("cell"):
        return "–"
    href = f"../notebooks/{ledger['slug']}.html#check-{claim['cell']}"
    return f'<a href="{html.escape(href)}">{html.escape(claim["cell"])}</a>'


def _coverage_rows(ledgers: list[dict]) -> list[str]:
    rows = [
        "| chapter | post | claims | checkable | asserted | shown | asserted / checkable |",
        "|---|---|---|---|---|---|---|",
    ]
    for led in ledgers:
        for post in led["posts"]:
            mine = [c for c in led["claims"] if c["post"] == post]
            checkable = [c for c in mine if c["treatment"] != "not checkable"]
            asserted = sum(c["treatment"] == "asserted" for c in mine)
            shown = sum(c["treatment"] == "shown" for c in mine)
            share = f"{asserted / len(checkable):.0%}" if checkable else "–"
            rows.append(
                f"| {{doc}}`../notebooks/{led['slug']}` | {post} | {len(mine)} | {len(checkable)} | {asserted} "
                f"| {shown} | {share} |"
            )
    return rows


def claims_page(ledgers: list[dict]) -> str:
    """Markdown: coverage per chapter, then every claim grouped by verdict."""
    out = ["## Coverage", "", *_coverage_rows(ledgers), ""]
    for verdict in ORDER:
        rows = [(led, c) for led in ledgers for c in led["claims"] if c["verdict"] == verdict]
        out += [f"## {verdict.capitalize()} ({len(rows)})", ""]
        if not rows:
            out += ["None.", ""]
            continue
        out += ["| post | where | claim | evidence | checked in |", "|---|---|---|---|---|"]
        for led, c in rows:
            text = c["text"] + (f" (caveat: {c['caveat']})" if c.get("caveat") else "")
            out.append(
                f"| {c['post']} | {_cell(c['where'])} | {_cell(text)} | {_cell(c['evidence'])} | {_link(led, c)} |"
            )
        out.append("")
    return "\n".join(out)


def errata_page(ledgers: list[dict]) -> str:
    """Markdown: the claims that do not hold as stated, or hold only with a caveat, by post."""
    rows = [
        (led, c) for led in ledgers for c in led["claims"] if c["verdict"] in ("does not hold", "holds with caveat")
    ]
    rows.sort(key=lambda item: (item[1]["post"], ORDER.index(item[1]["verdict"])))
    out = ["| post | what the post says | what we find | chapter |", "|---|---|---|---|"]
    for led, c in rows:
        kind = "slip in the post: " if c.get("erratum") else ""
        finding = f"{kind}{c['verdict']}: {c['caveat'] or c['evidence']}"
        out.append(f"| {c['post']} | {_cell(c['text'])} | {_cell(finding)} | {{doc}}`../notebooks/{led['slug']}` |")
    return "\n".join(out) if rows else "No claim has been found not to hold."


def _source_read(app, docname: str, source: list[str]) -> None:
    marker = {"book/claims": "<!-- ledger: claims -->", "book/errata": "<!-- ledger: errata -->"}.get(docname)
    if marker is None or marker not in source[0]:
        return
    root = Path(app.srcdir)
    ledgers = read_ledgers(root, root / "_build" / ".jupyter_cache")
    page = claims_page(ledgers) if docname == "book/claims" else errata_page(ledgers)
    source[0] = source[0].replace(marker, page)


def _anchor_checks(app, doctree) -> None:
    for block in list(doctree.findall(nodes.literal_block)):
        first = block.astext().split("\n", 1)[0].strip()
        if not first.startswith("# check:"):
            continue
        label = first.removeprefix("# check:").strip()
        node = block
        while node.parent is not None and "cell" not in node.get("classes", []):
            node = node.parent
        target = node if "cell" in node.get("classes", []) else block
        target["ids"].append(f"check-{label}")


def setup(app):
    app.connect("source-read", _source_read)
    app.connect("doctree-read", _anchor_checks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
