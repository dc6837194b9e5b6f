"""The files a review is asked with besides its documents: the framework (TOML) and the
guidelines (text or Word)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.errors import InputError

if TYPE_CHECKING:
    from prism_cli.core.framework import Framework


def load_framework(path: Path | None) -> Framework:
    from importlib import resources

    from prism_cli.core.framework import parse_framework
    from prism_cli.errors import FrameworkError

    if path is None:
        text = resources.files("prism_cli.frameworks").joinpath("default.toml").read_text("utf-8")
        return parse_framework(text)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read framework: {exc.strerror or exc}") from exc
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise InputError(
            str(path), "not a TOML framework file (a Word file? --guidelines takes those)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), "not a TOML framework file (it is not UTF-8 text)") from None
    try:
        return parse_framework(text)
    except FrameworkError as exc:
        raise InputError(str(path), f"invalid framework: {exc}") from exc


def load_guidelines(path: Path | None) -> str:
    if path is None:
        return ""
    if path.suffix.lower() in (".docx", ".docm", ".dotx", ".dotm"):
        from prism_cli.app.documents import text_of

        return text_of(path)
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            str(path), f"cannot read guidelines: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
