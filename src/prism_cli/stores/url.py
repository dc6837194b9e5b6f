"""Open a session store from its URL."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from prism_cli.core.ports import SessionStore
from prism_cli.stores.masking import mask_url

SCHEMES = ("file", "redis", "rediss", "s3")


def default_store_url() -> str:
    import platformdirs

    return (Path(platformdirs.user_data_dir("prism", appauthor=False)) / "sessions").as_uri()


def open_store(url: str) -> SessionStore:
    """A store for ``url``; raises ValueError for a URL that names no store."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file store URLs have no host: {mask_url(url)}")
        from prism_cli.stores.disk import DiskStore

        return DiskStore(Path(unquote(parts.path)))
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise ValueError(f"redis store URL needs a host: {mask_url(url)}")
        from prism_cli.stores.redis import RedisStore

        password = parts.password and unquote(parts.password)
        return RedisStore(
            url,
            password=password
            or os.environ.get("PRISM_REDIS_PASSWORD")
            or os.environ.get("REDIS_PASSWORD"),
        )
    if parts.scheme == "s3":
        if not parts.netloc or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc):
            raise ValueError(f"s3 store URL needs a valid bucket: {mask_url(url)}")
        from prism_cli.stores.s3 import S3Store

        return S3Store(parts.netloc, parts.path.strip("/"))
    if not parts.scheme and url:
        # A bare path is a convenience for file:///abs/path.
        from prism_cli.stores.disk import DiskStore

        return DiskStore(Path(url).expanduser().resolve())
    raise ValueError(
        f"unknown store URL {mask_url(url)!r}: use file:///dir, redis://host:port/db or s3://bucket/prefix"
    )
