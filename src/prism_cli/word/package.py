"""Safe access to a Word package (a zip of XML parts) that a user handed us.

Everything here assumes hostile input:

* OLE compound files are told apart (encrypted OOXML vs. legacy Word 97-2003 ``.doc``);
* zip bombs are refused from the central directory *before* anything is inflated (total size,
  per-part size, compression ratio), and every part is streamed with a hard cap in case the
  directory lies;
* XML is parsed without loading a DTD, resolving entities, the network or huge-tree mode:
  a part that declares a DTD is read with its entity references left as they are;
* Strict OOXML namespaces are rewritten to the transitional ones the rest of the code knows.

Library exceptions (zipfile, lxml, OSError) are translated to :class:`InputError` here.
"""

from __future__ import annotations

import hashlib
import posixpath
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lxml import etree

from prism_cli.errors import InputError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PART_BYTES = 128 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 400
"""Real XML parts compress 5-100x; deflated zeros reach ~1000x. Small parts are exempt."""
RATIO_EXEMPT_BYTES = 1024 * 1024
STREAM_CHUNK = 1024 * 1024

REL_OFFICE_DOCUMENT = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
)
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

# Strict OOXML (ISO 29500 strict) -> transitional namespaces. Same length is not required:
# we rewrite bytes before parsing.
_STRICT_TO_TRANSITIONAL = {
    b"http://purl.oclc.org/ooxml/wordprocessingml/main": (
        b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    ),
    b"http://purl.oclc.org/ooxml/officeDocument/relationships": (
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ),
    b"http://purl.oclc.org/ooxml/drawingml/main": (
        b"http://schemas.openxmlformats.org/drawingml/2006/main"
    ),
    b"http://purl.oclc.org/ooxml/drawingml/wordprocessingDrawing": (
        b"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
    ),
    b"http://purl.oclc.org/ooxml/officeDocument/math": (
        b"http://schemas.openxmlformats.org/officeDocument/2006/math"
    ),
}


_PARSERS = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's parser (a parser is not to be shared between threads; making one per
    part cost a tenth of reading a small document)."""
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
    return parser


def _ole_reason(path: Path) -> str:
    """Encrypted OOXML and legacy .doc are both OLE compound files; their streams tell them apart."""
    try:
        data = path.read_bytes()[: 64 * 1024 * 1024]
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if (
        "EncryptedPackage".encode("utf-16-le") in data
        or "EncryptionInfo".encode("utf-16-le") in data
    ):
        return (
            "encrypted or password-protected document: remove the password in Word and save again"
        )
    if "WordDocument".encode("utf-16-le") in data:
        return "legacy Word 97-2003 .doc: save it as .docx"
    return "OLE compound file that is not a Word document"


@dataclass
class Package:
    """An opened, size-checked Word package."""

    path: Path
    sha256: str
    zip: zipfile.ZipFile
    main_part: str
    _rels: dict[str, etree._Element] = field(default_factory=dict, repr=False)
    """Relationship parts read so far (the main part's is asked for three times)."""

    def has_part(self, name: str) -> bool:
        try:
            self.zip.getinfo(name)
        except KeyError:
            return False
        return True

    def read_part(self, name: str) -> bytes:
        """Inflate one part, refusing to go past its declared size (the directory may lie)."""
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            raise InputError(str(self.path), f"missing part {name}") from None
        limit = min(info.file_size, MAX_PART_BYTES)
        out = bytearray()
        try:
            with self.zip.open(info) as stream:
                while True:
                    chunk = stream.read(STREAM_CHUNK)
                    if not chunk:
                        break
                    out += chunk
                    if len(out) > limit:
                        raise InputError(
                            str(self.path), f"part {name} inflates beyond its declared size"
                        )
        except InputError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise InputError(str(self.path), f"corrupt zip part {name}: {exc}") from exc
        except Exception as exc:  # zlib.error and friends
            raise InputError(str(self.path), f"corrupt zip part {name}: {exc}") from exc
        return bytes(out)

    def read_xml(self, name: str) -> etree._Element:
        return self.parse_xml(name, self.read_part(name))

    def parse_xml(self, name: str, data: bytes) -> etree._Element:
        """``data``, the bytes of part ``name``, parsed."""
        for strict, transitional in _STRICT_TO_TRANSITIONAL.items():
            if strict in data:
                data = data.replace(strict, transitional)
        try:
            root = etree.fromstring(data, parser=_parser())
        except etree.XMLSyntaxError as exc:
            raise InputError(str(self.path), f"malformed XML in {name}: {exc}") from exc
        if root is None:
            raise InputError(str(self.path), f"empty XML part {name}")
        # A DTD (Word never writes one; other tools may) is read but never used: its entities
        # stay unexpanded references, nothing is loaded, no file or network is touched.
        return root

    def related_part(self, source: str, rel_type_suffix: str) -> str | None:
        """Target of the first relationship of ``source`` whose type ends with the suffix."""
        folder, base = posixpath.split(source)
        rels_name = posixpath.join(folder, "_rels", base + ".rels")
        rels = self._rels.get(rels_name)
        if rels is None:
            if not self.has_part(rels_name):
                return None
            rels = self._rels[rels_name] = self.read_xml(rels_name)
        for rel in rels.iter(f"{{{REL_NS}}}Relationship"):
            if (rel.get("Type") or "").endswith(rel_type_suffix) and rel.get(
                "TargetMode"
            ) != "External":
                target = rel.get("Target") or ""
                if target.startswith("/"):
                    return target.lstrip("/")
                return posixpath.normpath(posixpath.join(folder, target))
        return None

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_directory(path: Path, zf: zipfile.ZipFile) -> None:
    total = 0
    for info in zf.infolist():
        if info.file_size > MAX_PART_BYTES:
            raise InputError(
                str(path),
                f"part {info.filename} would inflate to {info.file_size} bytes (zip bomb?)",
            )
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise InputError(str(path), "package would inflate beyond 1 GiB (zip bomb?)")
        if info.file_size > RATIO_EXEMPT_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > MAX_RATIO:
                raise InputError(
                    str(path),
                    f"part {info.filename} has a compression ratio of {ratio:.0f}:1 (zip bomb?)",
                )


def _hash_file(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(STREAM_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def open_package(path: Path) -> Package:
    """Open ``path`` as a Word package or raise :class:`InputError` saying why not."""
    name = str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(name, "is a directory")
        with path.open("rb") as fh:
            head = fh.read(8)
            fh.seek(0)
            sha = _hash_file(fh)
    except FileNotFoundError:
        raise InputError(name, "no such file") from None
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from exc
    if size == 0:
        raise InputError(name, "empty file")
    if size > MAX_FILE_BYTES:
        raise InputError(name, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    if head.startswith(OLE_MAGIC):
        raise InputError(name, _ole_reason(path))
    if not head.startswith(ZIP_MAGICS):
        raise InputError(name, "not a Word document (not a zip-based .docx package)")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(name, f"truncated or corrupt zip archive ({exc})") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(name, f"truncated or corrupt zip archive ({exc})") from exc
    try:
        _check_directory(path, zf)
        package = Package(path, sha, zf, "")
        main = package.related_part("", "/officeDocument")
        if main is None or not package.has_part(main):
            main = "word/document.xml" if package.has_part("word/document.xml") else None
        if main is None:
            raise InputError(name, "missing main document part (word/document.xml)")
        package.main_part = main
    except BaseException:
        zf.close()
        raise
    return package
