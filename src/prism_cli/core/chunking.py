"""Split long section text into chunks that fit a model's token budget.

Chunks break at paragraph boundaries; a single paragraph longer than the budget is split at
whitespace (or, failing that, anywhere). Concatenating the chunks' pieces in order gives back
every paragraph exactly: nothing is lost or duplicated.
"""

from __future__ import annotations

from collections.abc import Sequence

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """A cheap, conservative token estimate (Claude averages ~3.5-4 characters per token)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def _split_paragraph(text: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    rest = text
    while len(rest) > max_chars:
        cut = rest.rfind(" ", 0, max_chars + 1)
        if cut <= 0:
            cut = max_chars
        else:
            cut += 1  # keep the space with the left piece so pieces concatenate exactly
            if cut > max_chars:
                cut = max_chars
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces


def chunk_paragraphs(paragraphs: Sequence[str], budget_tokens: int) -> list[list[str]]:
    """Group paragraphs into chunks whose ``"\\n".join`` stays within ``budget_tokens``.

    A paragraph that alone exceeds the budget is split into pieces; those pieces follow each
    other in consecutive chunks.
    """
    if budget_tokens < 1:
        raise ValueError("budget_tokens must be positive")
    max_chars = budget_tokens * CHARS_PER_TOKEN
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0  # characters of "\n".join(current)
    for paragraph in paragraphs:
        for piece in _split_paragraph(paragraph, max_chars):
            added = len(piece) + (1 if current else 0)
            if current and size + added > max_chars:
                chunks.append(current)
                current, size = [], 0
                added = len(piece)
            current.append(piece)
            size += added
    if current:
        chunks.append(current)
    return chunks


DEFAULT_CHUNK_TOKENS = 6000
"""Per-request budget for section text: far below every model's window, so the prompt, the
outline and a long answer always fit."""
