"""Writing what prism produces to the path a user names, whatever is at that path.

* ``-`` is standard output.
* A regular file (or a new one) is replaced atomically: a temporary file in the same folder,
  then a rename, so a reader never sees half a report and an interrupted write loses nothing.
* A symbolic link is written through: the file it points to is replaced, the link stays.
* Anything else that exists (a FIFO, ``/dev/null``, a terminal) is opened and written to as
  it is; it is never replaced by a regular file.
* New files and folders get the mode the umask gives (0644 / 0755 under umask 022), or, when
  a file is replaced, the mode it had.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from prism_cli.errors import InputError

STDOUT = "-"


def _umask() -> int:
    # Linux says it without changing it (setting and restoring it races with other threads).
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~_umask()


def dir_mode() -> int:
    return 0o777 & ~_umask()


def is_stdout(target: Path | str) -> bool:
    return str(target) == STDOUT


def write_bytes(target: Path | str, data: bytes) -> None:
    """Write ``data`` to ``target`` as the module docstring says."""
    if is_stdout(target):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    try:
        resolved = Path(os.path.realpath(path))  # through symbolic links, to what they name
        try:
            st: os.stat_result | None = resolved.stat()
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                raise InputError(str(path), "is a directory")
            with open(resolved, "wb") as fh:  # a FIFO, a device, a terminal: as it is
                fh.write(data)
            return
        make_dirs(resolved.parent)
        mode = stat.S_IMODE(st.st_mode) if st is not None else file_mode()
        fd, tmp = tempfile.mkstemp(dir=resolved.parent, prefix=f".{resolved.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, resolved)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise InputError(str(path), f"cannot write: {exc.strerror or exc}") from exc


def write_text(target: Path | str, text: str) -> None:
    """Text, ending with a newline, in UTF-8."""
    write_bytes(target, (text if text.endswith("\n") else text + "\n").encode("utf-8"))


def make_dirs(path: Path) -> None:
    """``mkdir -p`` with the umask's mode."""
    path.mkdir(parents=True, exist_ok=True, mode=0o777)


def publish_dir(staging: Path) -> None:
    """A folder made private by ``tempfile.mkdtemp`` gets the umask's mode before it is
    published under its final name."""
    os.chmod(staging, dir_mode())
    for root, dirs, files in os.walk(staging):
        for name in dirs:
            os.chmod(os.path.join(root, name), dir_mode())
        for name in files:
            os.chmod(os.path.join(root, name), file_mode())
