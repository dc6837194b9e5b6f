"""Documents into sections, once: the paths a user gives (files, folders, globs), a single
file, or the copy a session keeps. Review, ``sections``, chat and workers all read through
here; what cannot be read is returned, not raised, so a batch goes on with the rest."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.core.review import DocumentReview
from prism_cli.errors import InputError, PrismError

if TYPE_CHECKING:
    from prism_cli.core.document import Document, Section
    from prism_cli.core.sections import SectionRules
    from prism_cli.core.session import Sessions


@dataclass(frozen=True)
class Unreadable:
    """A path that gave no document, and why."""

    path: str
    error: PrismError

    @property
    def reason(self) -> str:
        """Why, without the path (the report's ``unreadable[].error``)."""
        return self.error.reason if isinstance(self.error, InputError) else str(self.error)


@dataclass
class Loaded:
    """Documents read and split, in the order given, and the paths that could not be."""

    reviews: list[DocumentReview] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)


def expand(args: Sequence[str]) -> tuple[list[Path], list[Unreadable]]:
    """The document files ``args`` name (folders searched, globs expanded), and the args
    that name none."""
    from prism_cli.inputs import expand_paths

    expanded = expand_paths(list(args))
    return expanded.paths, [Unreadable(e.path, e) for e in expanded.errors]


def load(paths: Iterable[Path], rules: SectionRules | None = None) -> Loaded:
    """Each file read and split into sections; one that cannot be read is set aside."""
    loaded = Loaded()
    for path in paths:
        try:
            loaded.reviews.append(read(path, rules))
        except PrismError as exc:
            loaded.unreadable.append(Unreadable(str(path), exc))
    return loaded


def load_args(args: Sequence[str], rules: SectionRules | None = None) -> Loaded:
    """:func:`expand` then :func:`load`: what the args name, the problems first."""
    paths, problems = expand(args)
    loaded = load(paths, rules)
    loaded.unreadable[:0] = problems
    return loaded


def read(path: Path, rules: SectionRules | None = None) -> DocumentReview:
    """One file, read and split (raises :class:`InputError` when it cannot be read)."""
    from prism_cli.word.reader import read_document

    return split(read_document(path), rules)


def text_of(path: Path) -> str:
    """A Word file's text, a line per non-empty paragraph (guidelines given as a .docx)."""
    from prism_cli.word.reader import read_document

    return "\n".join(b.text for b in read_document(path).blocks if b.text.strip())


def split(document: Document, rules: SectionRules | None = None) -> DocumentReview:
    """A document read already, split into its sections (``rules``: what the user's
    ``[sections]`` says; None: the defaults)."""
    from prism_cli.core.sections import DEFAULT_RULES, split_document

    found = split_document(document.blocks, rules or DEFAULT_RULES)
    return DocumentReview(document, found.sections, title=found.title)


def sections_of(document: Document, rules: SectionRules | None = None) -> list[Section]:
    return list(split(document, rules).sections)


def stored(sessions: Sessions, sid: str, rules: SectionRules | None = None) -> DocumentReview:
    """The document a session keeps (its path is the original's), read and split: what chat
    and workers review, with no local file needed. Its session id is ``sid``."""
    review = split(stored_document(sessions, sid), rules)
    review.session_id = sid
    return review


def stored_bytes(sessions: Sessions, sid: str) -> bytes:
    """The session's document as it keeps it (else the file at its path, if the store has
    no copy and the file is there)."""
    meta = sessions.require(sid)
    data = sessions.get_document(sid)
    path = Path(meta.document.path)
    if data is None and path.is_file():
        data = path.read_bytes()
    if data is None:
        raise InputError(meta.document.path, "the session holds no copy of the document")
    return data


def stored_document(sessions: Sessions, sid: str) -> Document:
    """The session's document, read from its stored copy (else from its path, if the store
    has no copy and the file is there)."""
    import dataclasses
    import tempfile

    from prism_cli.word.reader import read_document

    meta = sessions.require(sid)
    data = stored_bytes(sessions, sid)
    with tempfile.TemporaryDirectory(prefix="prism-") as tmp:
        copy = Path(tmp) / (meta.document.name or "document.docx")
        copy.write_bytes(data)
        document = read_document(copy)
    return dataclasses.replace(document, path=meta.document.path)
