"""Notes said once per machine: a fact that does not change from run to run (a region without
a profile of its own) is worth a line the first time, and noise every time after."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def _file() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("prism")) / "notes-said.json"


def first_time(note: str) -> bool:
    """True the first time ``note`` is asked about on this machine (then remembered); True
    as well when the record cannot be read or written (a note too many beats one lost)."""
    digest = hashlib.sha256(note.encode("utf-8")).hexdigest()[:16]
    path = _file()
    try:
        said = set(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        said = set()
    if digest in said:
        return False
    said.add(digest)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(sorted(said)), "utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return True
