"""``-o`` writes through to whatever the path is: a file (atomically), a symlink's target, a
FIFO or device as it is, ``-`` to standard output; new files get the umask's mode."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_prism
from docbuilder import make_docx, p


@pytest.fixture
def umask022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def doc(tmp_path: Path) -> Path:
    body = p("Plan", style="Heading1") + p("The budget is TBD.")
    return make_docx(tmp_path / "plan.docx", body)


def review(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = run_prism("review", str(doc(tmp_path)), "--offline", *args, cwd=tmp_path)
    return result.code, result.stdout, result.stderr


def test_a_symlink_is_written_through_not_replaced(tmp_path: Path) -> None:
    real = tmp_path / "reports" / "real.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, _, err = review(tmp_path, "-f", "json", "-o", str(link))
    assert code in (0, 1), err
    assert link.is_symlink()
    assert json.loads(real.read_text())["documents"][0]["path"].endswith("plan.docx")


def test_a_fifo_is_written_to_as_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, _, err = review(tmp_path, "-f", "json", "-o", str(fifo))
    reader.join(timeout=30)
    assert code in (0, 1), err
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a FIFO, not a regular file
    assert json.loads(got[0])["documents"]


def test_a_device_is_never_replaced(tmp_path: Path) -> None:
    code, _, err = review(tmp_path, "-f", "json", "-o", "/dev/null")
    assert code in (0, 1), err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_dash_is_standard_output(tmp_path: Path) -> None:
    code, out, err = review(tmp_path, "-f", "json", "-o", "-")
    assert code in (0, 1), err
    assert json.loads(out)["documents"]
    assert not (tmp_path / "-").exists()
    assert "wrote" not in err


def test_a_reviewed_copy_to_standard_output(tmp_path: Path) -> None:
    import io
    import subprocess
    import sys
    import zipfile

    proc = subprocess.run(
        [sys.executable, "-m", "prism_cli", "review", str(doc(tmp_path)), "--offline",
         "-f", "docx", "-o", "-"],
        capture_output=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    with zipfile.ZipFile(io.BytesIO(proc.stdout)) as zf:
        assert "word/comments.xml" in zf.namelist()
    assert not (tmp_path / "-").exists()


def test_new_files_and_folders_get_the_umask_mode(tmp_path: Path, umask022: None) -> None:
    code, _, err = review(tmp_path, "-f", "json", "-o", str(tmp_path / "new" / "report.json"))
    assert code in (0, 1), err
    assert stat.S_IMODE((tmp_path / "new" / "report.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o755
    code, _, err = review(tmp_path, "-f", "docx", "-o", str(tmp_path / "copy.docx"))
    assert code in (0, 1), err
    assert stat.S_IMODE((tmp_path / "copy.docx").stat().st_mode) == 0o644
    result = run_prism("export", "plan.docx", "--to", str(tmp_path / "exports"), cwd=tmp_path)
    assert result.code == 0, result.stderr
    (folder,) = (tmp_path / "exports").iterdir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    inside = list(folder.rglob("*"))
    assert {stat.S_IMODE(f.stat().st_mode) for f in inside if f.is_file()} == {0o644}
    assert {stat.S_IMODE(f.stat().st_mode) for f in inside if f.is_dir()} <= {0o755}


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask022: None) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    target.chmod(0o600)
    code, _, err = review(tmp_path, "-f", "json", "-o", str(target))
    assert code in (0, 1), err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text())["documents"]


# -- the format follows -o, and output never destroys ------------------------------------------
@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("rev.docx", lambda data: data[:2] == b"PK"),
        ("report.md", lambda data: data.startswith(b"# ")),
        ("report.json", lambda data: json.loads(data)["summary"] is not None),
        ("report.sarif", lambda data: json.loads(data)["version"] == "2.1.0"),
        ("report.sarif.json", lambda data: json.loads(data)["version"] == "2.1.0"),
        ("report.xml", lambda data: data.startswith(b"<?xml")),
    ],
)
def test_without_format_the_extension_of_o_decides(
    tmp_path: Path, name: str, check: object
) -> None:
    code, _, err = review(tmp_path, "-o", name, "--fail-on", "never")
    assert code == 0, err
    assert check((tmp_path / name).read_bytes())  # type: ignore[operator]


def test_a_format_that_contradicts_the_extension_is_refused(tmp_path: Path) -> None:
    code, _, err = review(tmp_path, "-f", "json", "-o", "rev.docx")
    assert code == 2
    assert "names a Word file but --format is json" in err
    assert not (tmp_path / "rev.docx").exists()


@pytest.mark.parametrize("args", [("-f", "docx", "-o", "plan.docx"), ("-o", "plan.docx")])
def test_the_document_under_review_is_never_overwritten(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    source = doc(tmp_path)
    before = source.read_bytes()
    code, _, err = review(tmp_path, *args)
    assert code == 2
    assert "a document under review" in err
    assert "Traceback" not in err
    assert source.read_bytes() == before


def test_a_link_to_the_document_is_not_a_way_around(tmp_path: Path) -> None:
    source = doc(tmp_path)
    before = source.read_bytes()
    (tmp_path / "alias.docx").symlink_to(source)
    code, _, err = review(tmp_path, "-f", "docx", "-o", "alias.docx")
    assert code == 2, err
    assert source.read_bytes() == before


def test_binary_output_to_a_terminal_is_refused(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    import sys

    path = doc(tmp_path)
    child = pexpect.spawn(
        sys.executable, ["-m", "prism_cli", "review", str(path), "--offline", "-f", "docx", "-o", "-"],
        cwd=str(tmp_path), env={**os.environ, "TERM": "xterm"}, encoding="utf-8", timeout=30,
    )  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "redirect it (> copy.docx)" in child.before
    assert "PK" not in child.before


def test_binary_output_to_a_pipe_still_works(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = doc(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "prism_cli", "review", str(path), "--offline", "-f", "docx",
         "-o", "-", "--fail-on", "never"],
        capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout[:2] == b"PK"
