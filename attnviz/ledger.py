"""Claims ledgers: every checkable claim of a chapter's home posts, how the chapter treats it, and a verdict.

A chapter builds one :class:`Ledger`. Each claim of a post goes in with where the post makes it, the
book's own wording of it, its treatment, and the label of the code cell that checks it (that cell's first
line is ``# check: <label>``). The verdict is never typed: it is computed from values the chapter shows,

- :meth:`Ledger.check`: ``holds`` is a bool computed in the chapter (a deviation under its tolerance, a
  count, a comparison); with a ``caveat`` a claim that holds "holds with caveat";
- :meth:`Ledger.experiment`: a measured difference and its standard error give "holds", "does not hold"
  or "inconclusive at this scale" (:func:`compare`);
- :meth:`Ledger.not_checkable`: the reason why not (a 100M-parameter run, a pre-training corpus).

:meth:`Ledger.publish` renders the chapter's "What we found" table, glues the coverage sentence for the
source card (myst-nb's ``{glue:text}`ledger-coverage```), and carries the ledger as JSON in the same
output, from which the book build generates the Claims index and the errata page.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field

VERDICTS = ("holds", "holds with caveat", "does not hold", "inconclusive at this scale", "not checkable here")
TREATMENTS = ("asserted", "shown", "not checkable")
MIME = "application/vnd.attnviz.ledger+json"  # the output the book build reads the ledgers from
GLUE_PREFIX = "application/papermill.record/"  # myst-nb's prefix for glued values
COVERAGE_TARGET = 0.9  # share of a post's checkable claims a chapter must assert
_LABEL = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Claim:
    """One claim of a post: where, what, how the chapter treats it, the verdict, the numbers behind it.

    Chapter: rope-rotation (via Ledger).
    """

    id: str
    post: str
    where: str
    text: str
    treatment: str
    verdict: str
    cell: str | None = None
    evidence: str = ""
    caveat: str = ""
    erratum: bool = False


def compare(difference: float, standard_error: float, *, z: float = 2.0) -> str:
    """Verdict of "the difference is positive": beyond z standard errors either way, else inconclusive.

    Chapter: train-short-test-long (via experiment).
    """
    for name, value in (("difference", difference), ("standard_error", standard_error), ("z", z)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite real number, got {value!r}")
    if standard_error < 0 or z <= 0:
        raise ValueError(f"standard_error must be >= 0 and z > 0, got {standard_error} and {z}")
    if difference > z * standard_error:
        return "holds"
    if difference < -z * standard_error:
        return "does not hold"
    return "inconclusive at this scale"


def _markdown_cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell: pipes and emphasis marks escaped, one line."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("\n", " ")


def _text(name: str, value: object, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise ValueError(f"{name} must be a {'' if empty else 'non-empty '}string, got {value!r}")
    return value.strip()


@dataclass
class Ledger:
    """The claims of a chapter's home posts (archive number -> title). Chapter: rope-rotation.

    ``cited``: other posts (archive number -> title) of which the chapter checks a few claims, typically an
    erratum, without being their home; their claims are listed and generated like the others but do not
    count towards the chapter's coverage.
    """

    chapter: str
    posts: dict[str, str]
    cited: dict[str, str] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)

    def __post_init__(self) -> None:
        _text("chapter", self.chapter)
        if not isinstance(self.posts, dict) or not self.posts:
            raise ValueError("posts must map each home post's archive number to its title")
        self.posts = {str(k): _text("post title", v) for k, v in self.posts.items()}
        if not isinstance(self.cited, dict):
            raise ValueError("cited must map archive numbers of other posts to their titles")
        self.cited = {str(k): _text("post title", v) for k, v in self.cited.items()}

    def _add(self, id: str, post: object, where: str, text: str, treatment: str, verdict: str, **rest) -> None:
        post = str(post)
        if post not in self.posts and post not in self.cited:
            known = sorted(self.posts) + sorted(self.cited)
            raise ValueError(f"post must be one of this chapter's home or cited posts {known}, got {post!r}")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"id {id!r} is already in the ledger")
        cell = rest.get("cell")
        if treatment != "not checkable" and (not isinstance(cell, str) or not _LABEL.match(cell)):
            raise ValueError(f"cell must be the label of the checking cell (# check: <label>), got {cell!r}")
        self.claims.append(
            Claim(_text("id", id), post, _text("where", where), _text("text", text), treatment, verdict, **rest)
        )

    def check(
        self,
        id: str,
        *,
        post: object,
        where: str,
        text: str,
        cell: str,
        holds: bool,
        evidence: str,
        caveat: str = "",
        shown: bool = False,
        erratum: bool = False,
    ) -> None:
        """A claim decided by ``holds``, a bool the chapter computed; asserted (or ``shown``) in ``cell``."""
        if not isinstance(holds, bool):
            raise ValueError(f"holds must be a bool computed in the chapter, got {type(holds).__name__}")
        verdict = (
            "does not hold" if not holds else "holds with caveat" if _text("caveat", caveat, empty=True) else "holds"
        )
        treatment = "shown" if shown else "asserted"
        self._add(
            id,
            post,
            where,
            text,
            treatment,
            verdict,
            cell=cell,
            evidence=_text("evidence", evidence),
            caveat=caveat.strip(),
            erratum=bool(erratum),
        )

    def experiment(
        self,
        id: str,
        *,
        post: object,
        where: str,
        text: str,
        cell: str,
        difference: float,
        standard_error: float,
        evidence: str,
        caveat: str = "",
    ) -> None:
        """An experimental claim "difference > 0", decided by :func:`compare` (2 standard errors)."""
        verdict = compare(difference, standard_error)
        if verdict == "holds" and _text("caveat", caveat, empty=True):
            verdict = "holds with caveat"
        evidence = f"{_text('evidence', evidence)} (difference {difference:.3g} ± {standard_error:.2g})"
        self._add(id, post, where, text, "asserted", verdict, cell=cell, evidence=evidence, caveat=caveat.strip())

    def not_checkable(self, id: str, *, post: object, where: str, text: str, reason: str) -> None:
        """A claim this book cannot check, with the reason (what it would take)."""
        self._add(id, post, where, text, "not checkable", "not checkable here", evidence=_text("reason", reason))

    def coverage(self) -> dict[str, dict[str, int]]:
        """Per post: claims in all, checkable, asserted, shown."""
        out = {}
        for post in self.posts:
            mine = [c for c in self.claims if c.post == post]
            counts = {t: sum(c.treatment == t for c in mine) for t in TREATMENTS}
            checkable = len(mine) - counts["not checkable"]
            out[post] = {
                "claims": len(mine),
                "checkable": checkable,
                "asserted": counts["asserted"],
                "shown": counts["shown"],
            }
        return out

    def coverage_text(self) -> str:
        """One sentence for the source card: "checks 31 of 33 claims of post 8265 (...)"."""
        parts = []
        for post, c in self.coverage().items():
            parts.append(
                f"asserts {c['asserted']} of the {c['checkable']} checkable claims of post {post}"
                f" ({c['claims'] - c['checkable']} more are not checkable here)"
            )
        return "This chapter " + "; ".join(parts) + "."

    def table(self) -> str:
        """The "What we found" table (Markdown), one row per claim, verdicts as computed."""
        rows = ["| post, where | claim | verdict | evidence | cell |", "|---|---|---|---|---|"]
        for c in self.claims:
            verdict = c.verdict + (f": {c.caveat}" if c.caveat else "")
            cells = [f"{c.post}, {c.where}", c.text, verdict, c.evidence, f"`{c.cell}`" if c.cell else "–"]
            rows.append("| " + " | ".join(_markdown_cell(x) for x in cells) + " |")
        return "\n".join(rows)

    def to_json(self) -> dict:
        """The ledger as plain data (what the book build reads)."""
        claims = [asdict(c) for c in self.claims]
        return {"chapter": self.chapter, "posts": self.posts, "cited": self.cited, "claims": claims}

    def publish(self) -> None:
        """Display the table (with the JSON alongside) and glue the coverage sentence for the source card."""
        from IPython.core.formatters import format_display_data
        from IPython.display import display

        display({"text/markdown": self.table(), MIME: json.loads(json.dumps(self.to_json()))}, raw=True)
        # myst-nb's glue protocol, written out so that publishing does not import myst_nb (and Sphinx) each time;
        # outside a book build the output has no renderer and shows nothing
        bundle, metadata = format_display_data(self.coverage_text())
        metadata["scrapbook"] = {"name": "ledger-coverage", "mime_prefix": GLUE_PREFIX}
        display({GLUE_PREFIX + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
