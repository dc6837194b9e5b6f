"""The one type for JSON documents (reports, session summaries, TOML tables, requests):
their shapes are checked by schemas and tests (DESIGN.md "Report"), not by mypy."""

from __future__ import annotations

from typing import Any

JSONObject = dict[str, Any]
