"""Store and queue URLs as they may be shown or shared: any password masked, or left out."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_PARAMS = {"password", "passwd", "pwd", "token", "secret", "auth"}


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe to print or log)."""
    parts = urlsplit(url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def public_url(url: str) -> str:
    """The URL with no credentials at all: its password (and any ``password=`` or ``token=``
    parameter) left out, the user name kept. What a queue may store and a worker be told: the
    worker puts its own credentials back (:func:`with_credentials`)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        host = netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        netloc = f"{user}@{host}" if user else host
    query = parts.query
    if query:
        kept = [
            (k, v)
            for k, v in parse_qsl(query, keep_blank_values=True)
            if k.lower() not in _SECRET_PARAMS
        ]
        query = urlencode(kept)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def with_credentials(url: str, known: Iterable[str | None]) -> str:
    """``url`` (as a queue names a store, without credentials) with the credentials of the
    first of ``known`` (a worker's own store URLs: ``--store``, ``PRISM_STORE``, prism.toml)
    that names the same store; ``url`` itself when none does."""
    target = public_url(url)
    for candidate in known:
        if candidate and public_url(candidate) == target:
            return candidate
    return url


def pasteable(url: str, env: str) -> str:
    """``url`` as a command to paste may name it: itself when it holds no secret, else the
    environment variable ``env`` that holds it (``"$PRISM_QUEUE"``): a masked password
    cannot be pasted, and a real one is never printed."""
    return url if public_url(url) == url else f'"${env}"'
