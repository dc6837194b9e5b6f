"""prism.toml as a user meets it: typos are reported with the file, line and a suggestion, bad
values name the file and key, and a command that needs no config survives a broken one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_prism
from docbuilder import make_docx, p


def setup(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "prism.toml").write_text(toml)
    return make_docx(tmp_path / "plan.docx", p("Plan", style="Heading1") + p("Budget is TBD."))


def test_misspelt_keys_and_sections_are_reported_with_a_suggestion(tmp_path: Path) -> None:
    setup(tmp_path, '[review]\nfial_on = "high"\n\n[reveiw]\nregion = "eu-west-1"\n')
    result = run_prism("review", "plan.docx", "--offline", "-f", "json", cwd=tmp_path)
    assert result.code in (0, 1), result.stderr
    prism_toml = tmp_path / "prism.toml"
    assert (
        f"warning: {prism_toml}:2: unknown key 'fial_on' in [review]; did you mean 'fail_on'?"
        in result.stderr
    )
    assert f"warning: {prism_toml}:4: unknown section [reveiw]; did you mean 'review'?" in (
        result.stderr
    )
    assert json.loads(result.stdout)["documents"]


def test_a_bad_value_names_the_file_line_and_key_not_an_env_var(tmp_path: Path) -> None:
    setup(tmp_path, '[review]\nregion = "eu-west-1"\nfail_on = "severe"\n')
    result = run_prism("review", "plan.docx", "--offline", cwd=tmp_path)
    assert result.code == 4
    line = result.stderr.strip()
    assert line.startswith(f"error: {tmp_path / 'prism.toml'}:3: fail_on = 'severe' in [review]")
    assert "'high', 'medium', 'low', 'never'" in line
    assert "env var" not in result.stderr
    assert "PRISM_FAIL_ON" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_keys_are_option_names(tmp_path: Path) -> None:
    setup(tmp_path, '[review]\nformat = "json"\nfail_on = "never"\n')
    result = run_prism("review", "plan.docx", "--offline", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["documents"]  # format = "json" took effect
    assert "warning" not in result.stderr


def test_a_broken_config_stops_review_and_sections(tmp_path: Path) -> None:
    # prism sections reads [sections] (how documents are split): a file it cannot read is
    # an error for it too, not a guess.
    setup(tmp_path, "[review\nfail_on = \n")
    result = run_prism("sections", "plan.docx", "-f", "json", cwd=tmp_path)
    assert result.code == 4
    assert result.stderr.startswith(f"error: {tmp_path / 'prism.toml'}: invalid config")
    assert result.stdout == ""
    result = run_prism("review", "plan.docx", "--offline", cwd=tmp_path)
    assert result.code == 4
    assert result.stderr.startswith(f"error: {tmp_path / 'prism.toml'}: invalid config")


def test_a_word_file_as_framework_is_a_clear_error(tmp_path: Path) -> None:
    doc = setup(tmp_path, "")
    result = run_prism("review", "plan.docx", "--offline", "--framework", str(doc), cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == (
        f"error: {doc}: not a TOML framework file (a Word file? --guidelines takes those)"
    )
    (tmp_path / "latin1.toml").write_bytes(b"title = \xf9\n")
    result = run_prism(
        "review", "plan.docx", "--offline", "--framework", "latin1.toml", cwd=tmp_path
    )
    assert result.code == 2
    assert "not a TOML framework file (it is not UTF-8 text)" in result.stderr


@pytest.mark.parametrize("xdg", [None, "", "  ", "/tmp/prism-xdg", " /tmp/x", "relative/dir"])
@pytest.mark.parametrize("home", ["/home/ana", "/home/ana/", None, "relative"])
def test_the_user_config_folder_is_platformdirs_own(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None, home: str | None
) -> None:
    from platformdirs import user_config_dir

    from prism_cli.cli.config import _user_config_dir

    for name, value in (("XDG_CONFIG_HOME", xdg), ("HOME", home)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert str(_user_config_dir()) == user_config_dir("prism")
