"""Safe reading: every class of bad input gets a one-line reason, quickly, in bounded memory."""

from __future__ import annotations

import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from docbuilder import CONTENT_TYPES, ROOT_RELS, document_xml, make_docx, p
from prism_cli.errors import InputError
from prism_cli.word.reader import read_document

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def reason(path: Path) -> str:
    with pytest.raises(InputError) as info:
        read_document(path)
    assert info.value.path == str(path)
    return info.value.reason


def ole_file(path: Path, stream_name: str) -> Path:
    # A compound file header followed by a directory entry naming the stream (UTF-16LE).
    path.write_bytes(OLE_MAGIC + b"\0" * 504 + stream_name.encode("utf-16-le") + b"\0" * 64)
    return path


def test_encrypted_document(tmp_path: Path) -> None:
    path = ole_file(tmp_path / "secret.docx", "EncryptedPackage")
    assert reason(path).startswith("encrypted or password-protected document")


def test_legacy_doc(tmp_path: Path) -> None:
    path = ole_file(tmp_path / "old.doc", "WordDocument")
    assert reason(path) == "legacy Word 97-2003 .doc: save it as .docx"


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "notes.docx"
    path.write_text("just some text pretending to be a document")
    assert reason(path) == "not a Word document (not a zip-based .docx package)"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    path.write_bytes(b"")
    assert reason(path) == "empty file"


def test_truncated_zip(tmp_path: Path) -> None:
    good = make_docx(tmp_path / "good.docx", p("text " * 500))
    path = tmp_path / "cut.docx"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert reason(path).startswith("truncated or corrupt zip archive")


def test_missing_main_part(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "d.docx", p("x"), omit=("word/document.xml",))
    assert reason(path) == "missing main document part (word/document.xml)"


def test_main_part_found_through_relationships(tmp_path: Path) -> None:
    rels = ROOT_RELS.replace("word/document.xml", "word/main.xml")
    path = tmp_path / "renamed.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", rels)
        zf.writestr("word/main.xml", document_xml(p("Renamed main part")))
    assert read_document(path).blocks[0].text == "Renamed main part"


def test_zip_bomb_refused_from_directory_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("word/document.xml", b"\0" * (64 * 1024 * 1024))
    assert path.stat().st_size < 1024 * 1024
    tracemalloc.start()
    try:
        why = reason(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "compression ratio" in why
    assert "zip bomb" in why
    assert peak < 8 * 1024 * 1024


def _patch_declared_size(path: Path, name: str, size: int) -> None:
    data = bytearray(path.read_bytes())
    start = 0
    while True:
        at = data.find(b"PK\x01\x02", start)
        assert at >= 0, "entry not found"
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == name.encode():
            struct.pack_into("<I", data, at + 24, size)
            break
        start = at + 4
    path.write_bytes(bytes(data))


def test_part_declared_too_large_is_refused_without_inflating(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "big.docx", p("small"))
    _patch_declared_size(path, "word/document.xml", 0xFFFFFF00)
    why = reason(path)
    assert "word/document.xml would inflate to" in why


def test_directory_that_lies_about_size(tmp_path: Path) -> None:
    # The directory claims 100 bytes; the stream holds far more: reading stops at the cap.
    path = make_docx(tmp_path / "liar.docx", p("x" * 50_000))
    _patch_declared_size(path, "word/document.xml", 100)
    why = reason(path)
    assert "word/document.xml" in why


def test_a_dtd_is_read_with_its_entities_left_unexpanded(tmp_path: Path) -> None:
    lol = (
        '<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
        + document_xml(p("&c; &ext;")).split("?>", 1)[1]
    )
    path = make_docx(tmp_path / "lol.docx", "", parts={"word/document.xml": lol})
    tracemalloc.start()
    doc = read_document(path)  # read, as Word and python-docx read it ...
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    text = " ".join(b.text for b in doc.blocks)
    assert "aaaaaaaaaa" not in text  # ... with no entity expanded (billion laughs) ...
    assert "root:" not in text  # ... and no file read (XXE)
    assert "&c;" in text
    assert peak < 20 * 1024 * 1024


def test_malformed_xml_names_the_part(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "bad.docx", "", parts={"word/styles.xml": "<w:styles><oops></w:styles>"}
    )
    assert reason(path).startswith("malformed XML in word/styles.xml:")


def test_strict_ooxml_is_read(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "strict.docx", p("Scope", style="Heading1") + p("Body"), strict=True
    )
    doc = read_document(path)
    assert [b.text for b in doc.blocks] == ["Scope", "Body"]
    assert doc.blocks[0].outline_level == 0


@pytest.mark.parametrize("suffix", [".docm", ".dotx", ".dotm"])
def test_macro_and_template_packages_are_read(tmp_path: Path, suffix: str) -> None:
    path = make_docx(tmp_path / f"d{suffix}", p("Works"))
    assert read_document(path).blocks[0].text == "Works"


def test_directory_is_not_a_document(tmp_path: Path) -> None:
    assert reason(tmp_path) == "is a directory"


def test_sha256_is_of_the_file(tmp_path: Path) -> None:
    import hashlib

    path = make_docx(tmp_path / "d.docx", p("x"))
    assert read_document(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
