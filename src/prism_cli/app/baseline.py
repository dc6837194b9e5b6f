"""Decisions kept in the repository: a baseline file of the findings a team accepted or
rejected (by fingerprint, with who and why), which a review reads so a suppression travels
with the document, as a linter's baseline does.

``prism baseline DOC...`` writes the reviewer's decisions of those documents' sessions into
the file (``.prism/baseline.json`` by default, diff-friendly: sorted, one finding an object);
``prism review --baseline FILE`` marks a rejected finding rejected (it fails nothing and is not
uploaded) and a known one as known; ``--new-only`` reports only findings the baseline does not
hold. A finding is matched by the fingerprint SARIF uses (its section's heading and its own
content, never the path), counted within its document."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prism_cli.errors import UsageError

if TYPE_CHECKING:
    from prism_cli.core.session import Sessions

DEFAULT_PATH = Path(".prism") / "baseline.json"
VERSION = 1


@dataclass(frozen=True)
class Entry:
    fingerprint: str
    status: str
    """accepted or rejected: what the reviewer decided."""
    document: str
    section: str
    title: str
    who: str
    why: str


def load(path: Path) -> dict[str, Entry]:
    """The baseline at ``path`` by fingerprint; an empty one when there is no file."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the baseline: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        # Not ours (a Word file named by mistake?): refused, and never written over.
        raise UsageError(f"{path}: not a prism baseline (not UTF-8 text)") from None
    try:
        data = json.loads(text)
        entries = [
            Entry(**{k: str(e.get(k, "")) for k in Entry.__dataclass_fields__})
            for e in data["findings"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: not a prism baseline ({exc})") from None
    return {e.fingerprint: e for e in entries if e.status in {"accepted", "rejected"}}


def dumps(entries: Iterable[Entry]) -> str:
    ordered = sorted(entries, key=lambda e: (e.document, e.section, e.title, e.fingerprint))
    payload = {"version": VERSION, "findings": [asdict(e) for e in ordered]}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def record(
    baseline: dict[str, Entry],
    report: dict[str, Any],
    document: str,
    *,
    who: str,
    why: str,
) -> tuple[int, int]:
    """Put one document's decisions (``report`` holds it, decisions applied) into
    ``baseline``: each accepted or rejected finding by fingerprint; a finding decided again
    keeps who decided it and why unless it changed; one of this document no longer decided
    leaves. Returns (entries now held for it, entries removed)."""
    from prism_cli.reports.heading import heading

    (doc,) = report["documents"]
    from prism_cli.reports.ci import fingerprints

    prints = fingerprints(doc)
    titles = {s["id"]: heading(s) for s in doc["sections"]}
    decided: dict[str, Entry] = {}
    for f in doc["findings"]:
        if f["status"] not in {"accepted", "rejected"}:
            continue
        fp = prints[str(f["id"])]
        old = baseline.get(fp)
        same = old is not None and old.status == f["status"]
        decided[fp] = Entry(
            fp,
            str(f["status"]),
            document,
            titles.get(f["section_id"], f["section_id"]),
            str(f["title"]),
            old.who if same and old else who,
            old.why if same and old and not why else why,
        )
    stale = [fp for fp, e in baseline.items() if e.document == document and fp not in decided]
    for fp in stale:
        del baseline[fp]
    baseline.update(decided)
    return len(decided), len(stale)


def write_decisions(
    sessions: Sessions,
    refs: Iterable[str],
    path: Path,
    *,
    who: str,
    why: str,
    said: Callable[[str, int, int], None] = lambda _doc, _n, _gone: None,
) -> int:
    """Each document's (or session's) decisions into the baseline at ``path``; ``said``
    hears (document, entries held for it, entries removed). Returns the entries written."""
    from prism_cli.app.run import resolve_session
    from prism_cli.core.session import report_with_decisions

    held = load(path)
    for ref in refs:
        sid = resolve_session(sessions, ref)
        report = sessions.report(sid)
        if report is None:
            raise UsageError(f"session {sid} has no report yet: run `prism review` to finish it")
        report = report_with_decisions(report, sessions.decisions(sid))
        key = Path(ref).as_posix() if Path(ref).is_file() else str(report["documents"][0]["path"])
        count, gone = record(held, report, key, who=who, why=why)
        said(key, count, gone)
    from prism_cli.outputs import write_text

    write_text(path, dumps(held.values()))  # atomic; through a symlink; a folder refused
    return len(held)


def apply(report: dict[str, Any], baseline: dict[str, Entry], *, new_only: bool) -> dict[str, int]:
    """Mark the report's findings the baseline knows: a rejected one is rejected (it fails
    nothing and is not uploaded), every known one says so (``baseline``); with ``new_only``
    only the findings it does not know stay. The summary's counts follow."""
    from prism_cli.reports.ci import fingerprints

    counts = {"known": 0, "suppressed": 0, "new": 0}
    for doc in report["documents"]:
        prints = fingerprints(doc)
        kept = []
        for f in doc["findings"]:
            entry = baseline.get(prints.get(str(f["id"]), ""))
            if entry is None:
                counts["new"] += 1
                kept.append(f)
                continue
            counts["known"] += 1
            if new_only:
                continue
            f = {**f, "baseline": {"status": entry.status, "who": entry.who, "why": entry.why}}
            if entry.status == "rejected" and f["status"] != "accepted":
                f["status"] = "rejected"
                counts["suppressed"] += 1
            kept.append(f)
        doc["findings"] = kept
    summary = report["summary"]
    live = [f for d in report["documents"] for f in d["findings"]]
    summary["findings"] = len(live)
    summary["findings_by_severity"] = {
        level: sum(1 for f in live if f["severity"] == level) for level in ("high", "medium", "low")
    }
    summary["baseline"] = counts
    return counts
