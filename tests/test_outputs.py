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
