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
