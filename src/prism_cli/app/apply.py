"""``prism apply``: a copy of a reviewed document with its findings' rewrites applied, as
tracked changes (each with its finding's comment) or, ``clean``, outright: the reviewer
triages in prism and hands the author a document with only the changes they agreed to."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.errors import UsageError

if TYPE_CHECKING:
    from prism_cli.core.session import Sessions
    from prism_cli.word.annotate import Copy


@dataclass(frozen=True)
class Applied:
    session: str
    name: str
    """The document's file name."""
    copy: Copy
    chosen: int
    """Findings with a rewrite that were applied or tried."""


def apply(
    sessions: Sessions,
    ref: str,
    *,
    accepted_only: bool,
    clean: bool,
    author: str,
) -> Applied:
    """The session's document (its stored copy) with the rewrites of its findings: those not
    rejected, or with ``accepted_only`` only the accepted ones."""
    from prism_cli.app.run import resolve_session
    from prism_cli.core.findings import Finding
    from prism_cli.core.session import report_with_decisions
    from prism_cli.word.annotate import reviewed_copy

    sid = resolve_session(sessions, ref)
    meta = sessions.require(sid)
    report = sessions.report(sid)
    if report is None:
        raise UsageError(f"session {sid} has no report yet: run `prism review` to finish it")
    found = report_with_decisions(report, sessions.decisions(sid))["documents"][0]["findings"]
    wanted = {"accepted"} if accepted_only else {"accepted", "open"}
    chosen = [
        Finding.model_validate(f)
        for f in found
        if f.get("replacement") and f.get("quote") and f.get("status") in wanted
    ]
    if not chosen:
        which = "accepted finding" if accepted_only else "finding (not rejected)"
        raise UsageError(
            f"nothing to apply: no {which} of session {sid} has a rewrite (ask for one in "
            "`prism chat` with /suggest; sections reviewed before prism asked for rewrites "
            "have none: `prism review --fresh` asks again)"
        )
    from prism_cli.app.documents import stored_bytes

    data = stored_bytes(sessions, sid)
    with tempfile.TemporaryDirectory(prefix="prism-apply-") as tmp:
        source = Path(tmp) / (meta.document.name or "document.docx")
        source.write_bytes(data)
        made = reviewed_copy(source, chosen, sid, suggest=author, clean=clean)
    return Applied(sid, meta.document.name, made, len(chosen))
