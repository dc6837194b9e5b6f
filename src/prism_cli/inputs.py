"""Expand command-line PATH arguments (files, directories, globs) into document paths."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from prism_cli.errors import InputError

DOCUMENT_SUFFIXES = (".docx", ".docm", ".dotx", ".dotm")
_GLOB_CHARS = set("*?[")


def _is_document(path: Path) -> bool:
    return path.suffix.lower() in DOCUMENT_SUFFIXES and not path.name.startswith("~$")


@dataclass
class Expanded:
    paths: list[Path] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


def expand_paths(args: list[str]) -> Expanded:
    """Files are taken as given; directories are searched recursively; globs are expanded.

    Word's lock files (``~$name.docx``) are skipped in directories and globs. Problems are
    returned, not raised, so a batch goes on with the paths that exist.
    """
    result = Expanded()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            result.paths.append(path)

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_document(p))
            if not found:
                result.errors.append(
                    InputError(arg, "no .docx/.docm/.dotx files in this directory")
                )
            for p in found:
                add(p)
        elif path.exists():
            add(path)
        elif _GLOB_CHARS & set(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True))
            docs = [m for m in matches if m.is_file() and _is_document(m)]
            if not docs:
                result.errors.append(InputError(arg, "no documents match this pattern"))
            for p in docs:
                add(p)
        else:
            result.errors.append(InputError(arg, "no such file or directory"))
    return result


def changed_documents(
    ref: str,
    args: list[str],
    deleted: list[str] | None = None,
    previous: dict[str, str] | None = None,
) -> list[Path]:
    """Documents changed since ``ref`` (git): what the working tree holds that differs from
    where this branch left ``ref`` (its merge base), plus untracked documents. With ``args``,
    only those under them. Paths as the cwd sees them; the documents deleted since are added
    to ``deleted`` (repository paths) when it is given; ``previous`` gets, for each document
    the base commit holds too, the SHA-256 of that version (``sha256:<hex>``), which names its
    session when it was reviewed there."""
    import os
    import subprocess

    from prism_cli.errors import UsageError

    def git(*argv: str) -> str:
        try:
            done = subprocess.run(
                ["git", *argv], capture_output=True, text=True, timeout=60, check=False
            )
        except OSError as exc:
            raise UsageError(f"--changed-since needs git: {exc.strerror or exc}") from exc
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["git failed"])[-1]
            raise UsageError(f"--changed-since {ref}: {why}")
        return done.stdout

    top = Path(git("rev-parse", "--show-toplevel").strip())
    try:
        git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except UsageError:
        shallow = subprocess.run(
            ["git", "rev-parse", "--is-shallow-repository"],
            capture_output=True, text=True, timeout=60, check=False,
        ).stdout.strip() == "true"  # fmt: skip
        if shallow:
            raise UsageError(
                f"--changed-since {ref}: not in this shallow clone (a CI checkout fetches one "
                "commit by default): check out with fetch-depth: 0 (GIT_DEPTH: 0 on GitLab), "
                f"or fetch it first (git fetch origin {ref.removeprefix('origin/')})"
            ) from None
        raise UsageError(f"--changed-since {ref}: no such commit, branch or tag here") from None
    try:
        base = git("merge-base", ref, "HEAD").strip() or ref
    except UsageError:
        base = ref  # no common history (a shallow clone): compare with the ref itself
    names = git("diff", "--name-only", "-z", "--diff-filter=d", base, "--").split("\0")
    names += git("ls-files", "--others", "--exclude-standard", "-z").split("\0")
    under = [Path(a).resolve() for a in args]
    if deleted is not None:
        gone = git("diff", "--name-only", "-z", "--diff-filter=D", base, "--").split("\0")
        for name in gone:
            path = (top / name).resolve() if name else None
            if path is None or not _is_document(path):
                continue
            if under and not any(u in path.parents for u in under):
                continue
            deleted.append(name)
    found: list[Path] = []
    seen: set[Path] = set()
    for name in names:
        if not name:
            continue
        path = (top / name).resolve()
        if path in seen or not _is_document(path) or not path.is_file():
            continue
        if under and not any(path == u or u in path.parents for u in under):
            continue
        seen.add(path)
        found.append(Path(os.path.relpath(path)))
        if previous is not None:
            old = subprocess.run(
                ["git", "show", f"{base}:{name}"], capture_output=True, timeout=60, check=False
            )
            if old.returncode == 0 and old.stdout:
                import hashlib

                digest = hashlib.sha256(old.stdout).hexdigest()
                previous[str(found[-1])] = f"sha256:{digest}"
    return sorted(found)
