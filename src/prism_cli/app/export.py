"""Export a review: one folder per export, to a directory or to S3.

``<UTC timestamp>_<document name>_<4 hex>/`` holds report.json, report.md, reviewed.docx,
feedback/accepted.json, feedback/rejected.json, feedback/custom.json, logs/activity.json and
chat.json. A directory export is written beside its target and renamed into place; an S3 export
uses server-side encryption (AES256, or KMS with a key), no ACLs, the client's standard retries,
and removes what it uploaded if a later object fails: nothing partial is left either way.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prism_cli.core.findings import Finding, in_reviewed_copy
from prism_cli.errors import ExportError as ExportError
from prism_cli.errors import InputError, UsageError
from prism_cli.reports import REGISTRY


def folder_name(document_path: str, now: datetime | None = None) -> str:
    """``<UTC timestamp>_<document>_<4 hex>``: sorts by time, and two exports of one document
    in the same second never land in one folder."""
    import secrets

    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    stem = re.sub(r"[^\w.-]+", "_", Path(document_path).stem).strip("._") or "document"
    return f"{stamp}_{stem}_{secrets.token_hex(2)}"


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build_files(
    report: dict[str, Any],
    *,
    docx: bytes | None,
    activity: Sequence[dict[str, Any]],
    chat: Sequence[Any],
    only_accepted: bool = False,
    formats: Sequence[str] = (),
    fail_on: str = "high",
) -> dict[str, bytes]:
    """The files of one export (``report`` holds exactly one document, decisions applied).

    report.json and report.md always; ``formats`` adds report.sarif, report.xml (junit) or
    report.github.txt.
    """
    from prism_cli.reports import render

    document = report["documents"][0]
    findings = document["findings"]
    files = {
        REGISTRY["json"].export_name or "report.json": _json(report),
        "feedback/accepted.json": _json([f for f in findings if f["status"] == "accepted"]),
        "feedback/rejected.json": _json([f for f in findings if f["status"] == "rejected"]),
        "feedback/custom.json": _json([f for f in findings if f["source"] == "reviewer"]),
        "logs/activity.json": _json(list(activity)),
        "chat.json": _json(list(chat)),
    }
    for fmt in REGISTRY.values():
        if fmt.export_name and fmt.name != "json" and (fmt.always_exported or fmt.name in formats):
            files[fmt.export_name] = render(fmt.name, report, fail_on).encode("utf-8")
    if docx is not None:
        files["reviewed.docx"] = reviewed_docx(
            docx,
            findings,
            only_accepted=only_accepted,
            session_id=document.get("session_id"),
            since=document.get("since"),
        )
    return files


def reviewed_docx(
    docx: bytes,
    findings: Sequence[dict[str, Any]],
    *,
    only_accepted: bool = False,
    session_id: str | None = None,
    since: dict[str, Any] | None = None,
) -> bytes:
    """``since``: the document's comparison with its previous version, said in one comment
    at the top."""
    from prism_cli.word.annotate import reviewed_copy

    chosen = [
        Finding.model_validate(f) for f in findings if in_reviewed_copy(f["status"], only_accepted)
    ]
    with tempfile.TemporaryDirectory(prefix="prism-export-") as tmp:
        source = Path(tmp) / "source.docx"
        source.write_bytes(docx)
        summary = None
        if since:
            from prism_cli.reports.versions import since_comment

            summary = since_comment(since)
        return reviewed_copy(source, chosen, session_id, summary).data


def write(files: dict[str, bytes], target: str, folder: str, *, kms_key: str | None = None) -> str:
    """Write ``files`` under ``target/folder/``; returns where they went."""
    if target.startswith("s3://"):
        return _upload(files, target, folder, kms_key)
    if "://" in target:
        raise UsageError(f"--to must be a directory or s3://bucket/prefix, not {target}")
    return _write_dir(files, Path(target), folder)


def _write_dir(files: dict[str, bytes], root: Path, folder: str) -> str:
    import os
    import shutil

    from prism_cli.outputs import publish_dir

    final = root / folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder}.", dir=root))
    except OSError as exc:
        raise InputError(str(root), f"cannot write: {exc.strerror or exc}") from exc
    try:
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if final.exists():
            raise InputError(str(final), "already exists")
        publish_dir(staging)  # mkdtemp made it private: the umask's modes, as any new folder
        os.replace(staging, final)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(str(final), f"cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return str(final)


def _upload(files: dict[str, bytes], url: str, folder: str, kms_key: str | None) -> str:
    from prism_cli.stores.s3 import upload

    return upload(
        {name: (data, _content_type(name)) for name, data in files.items()}, url, folder, kms_key
    )


def _content_type(name: str) -> str:
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".md"):
        return "text/markdown; charset=utf-8"
    if name.endswith(".docx"):
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return "application/octet-stream"
