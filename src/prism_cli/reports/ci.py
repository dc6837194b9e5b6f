"""What the CI formats (SARIF, GitHub annotations, JUnit) share: where a document is, relative
to the repository, and stable identities for findings and rules.

Pure: the base directory (``--base-dir``, else git's top level) is found by the CLI."""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from prism_cli.core.findings import normalize

_SLUG = re.compile(r"[^a-z0-9]+")
SRCROOT = "%SRCROOT%"


@dataclass(frozen=True)
class Base:
    """The repository root paths are relative to, and the directory relative report paths
    (as the user gave them) start from."""

    root: str
    cwd: str

    def absolute(self, path: str) -> str:
        full = path.replace("\\", "/")
        if not posixpath.isabs(full):
            full = posixpath.join(self.cwd.replace("\\", "/"), full)
        return posixpath.normpath(full)


def relative(path: str, base: Base | None) -> str | None:
    """``path`` relative to the repository root, with forward slashes; None outside it."""
    if base is None:
        return None
    full = base.absolute(path)
    root = posixpath.normpath(base.root.replace("\\", "/")).rstrip("/")
    if not full.startswith(root + "/"):
        return None
    return full[len(root) + 1 :]


def artifact(path: str, base: Base | None) -> dict[str, str]:
    """A SARIF artifactLocation: repository-relative and percent-encoded, with uriBaseId,
    as code scanning needs; an absolute file URI for a document outside the repository."""
    rel = relative(path, base)
    if rel is not None:
        return {"uri": quote(rel, safe="/"), "uriBaseId": SRCROOT}
    full = base.absolute(path) if base else posixpath.normpath(path.replace("\\", "/"))
    if posixpath.isabs(full):
        return {"uri": "file://" + quote(full, safe="/")}
    return {"uri": quote(full, safe="/")}


def display_path(path: str, base: Base | None) -> str:
    """The path CI shows (GitHub's ``file=``): repository-relative when it can be."""
    return relative(path, base) or path


def fingerprint(f: dict[str, Any], section_title: str, occurrence: int = 0) -> str:
    """Stable across edits elsewhere in the document and across a move of the document: the
    section's heading (number and title) and the finding's own content (rule or title, and
    quote), never the document's path, hash or position; ``occurrence`` tells apart identical
    findings (in two documents of a run, or twice in one)."""
    basis = "\x1f".join(
        (
            "",  # was the document's path (prismFinding/v2); kept empty, v3 prints stay as they are
            normalize(section_title),
            f.get("rule") or "",
            normalize(f.get("title") or ""),
            normalize(f.get("quote") or ""),
            str(occurrence) if occurrence else "",
        )
    )
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def fingerprints(
    document: dict[str, Any],
    seen: dict[str, int] | None = None,
    keep: Callable[[dict[str, Any]], bool] = lambda _f: True,
) -> dict[str, str]:
    """Finding id -> fingerprint for a report document's findings that ``keep`` keeps;
    identical ones are told apart by their order, counted in ``seen`` (shared over a run's
    documents by SARIF; a fresh count per document by the baseline)."""
    from prism_cli.reports.heading import heading

    seen = {} if seen is None else seen
    titles = {s["id"]: heading(s) for s in document["sections"]}
    out: dict[str, str] = {}
    for f in document["findings"]:
        if not keep(f):
            continue
        section = titles.get(f["section_id"], f["section_id"])
        print_ = fingerprint(f, section)
        seen[print_] = seen.get(print_, -1) + 1
        if seen[print_]:
            print_ = fingerprint(f, section, seen[print_])
        out[str(f["id"])] = print_
    return out


def rule(f: dict[str, Any], checkpoints: dict[str, str]) -> tuple[str, str]:
    """(rule id, its short description) from a fixed set: a built-in rule, a checkpoint of the
    framework the finding refers to, or the finding's type; never the model's free text."""
    if f.get("source") == "rules" and f.get("rule"):
        name = _SLUG.sub("-", str(f["rule"]).lower()).strip("-") or "rule"
        return f"prism/rules/{name}", f"Built-in rule {name}"
    for ref in f.get("framework_refs") or []:
        key = str(ref).strip()
        if key in checkpoints:
            return f"prism/framework/{key}", checkpoints[key]
    if f.get("source") == "reviewer":
        return "prism/reviewer", "A reviewer's own finding"
    kind = f.get("type") if f.get("type") in TYPES else "suggestion"
    return f"prism/model/{kind}", TYPES[str(kind)]


TYPES = {
    "critical": "A critical problem the model found",
    "important": "An important problem the model found",
    "suggestion": "A suggestion from the model",
    "positive": "Something done well",
}


def checkpoints(report: dict[str, Any]) -> dict[str, str]:
    framework = report.get("framework") or {}
    return {str(c["id"]): str(c.get("title") or c["id"]) for c in framework.get("checkpoints", [])}


def checkpoint_details(report: dict[str, Any]) -> dict[str, str]:
    """Each checkpoint's description (a report from before they were recorded: none)."""
    framework = report.get("framework") or {}
    return {str(c["id"]): str(c.get("description") or "") for c in framework.get("checkpoints", [])}


RULE_HELP = {
    "placeholder": "Text left to fill in (TBD, TODO, XXX, [name], lorem ipsum) is still in the "
    "document. Replace it with the real content or remove it.",
    "empty-section": "A heading has no content (or a few words) under it. Write the section or "
    "remove the heading.",
    "missing-section": "The review framework expects a section the document does not have. Add "
    "it, or say why it does not apply.",
    "action-owner-date": "An action or recommendation has no owner or no due date. Name who "
    "does it and by when.",
    "undefined-acronym": "An acronym is used without being spelt out the first time. Define it "
    "at first use.",
    "long-sentence": "A sentence is long enough to be hard to read. Split it.",
    "leftover-revisions": "The document still holds tracked changes or comments. Accept or "
    "reject them before it is final.",
}
"""Help for each built-in rule (core/rules.py), as SARIF's rules show it."""

TYPE_HELP = {
    "critical": "The model found a problem that makes the document wrong or unsafe to act on "
    "(a wrong figure, a missing approval, a contradiction). Fix it before the document goes out.",
    "important": "The model found a problem a careful reviewer would raise (an owner or a date "
    "missing, an unclear scope, a claim without evidence). Address it or say why not.",
    "suggestion": "The model suggests an improvement (clearer wording, a better structure). "
    "Optional.",
    "positive": "Something the document does well, kept so a reviewer sees what to keep.",
}
