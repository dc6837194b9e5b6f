"""The run-wide settings (lease, progress interval, quota window, [models] tables): one
Settings from code > PRISM_* > prism.toml > defaults (pydantic-settings reads them), checked with the same one-line
messages as a command's options."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import run_prism
from docbuilder import make_docx, p

if TYPE_CHECKING:
    from prism_cli.cli.settings import Settings


def _load(config: dict[str, object], **given: object) -> Settings:
    from prism_cli.cli.settings import load_settings

    return load_settings(config, None, **given)


def test_code_beats_the_environment_beats_the_file_beats_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prism_cli.cli.prism_settings import PrismSettings
    from prism_cli.cli.settings import DEFAULTS

    monkeypatch.delenv("PRISM_LEASE_TTL", raising=False)
    assert PrismSettings().lease_ttl == DEFAULTS.lease_ttl == 30.0
    assert _load({}) is DEFAULTS  # nothing set: the defaults, without pydantic-settings
    assert _load({"lease_ttl": 5}).lease_ttl == 5.0
    monkeypatch.setenv("PRISM_LEASE_TTL", "7")
    assert _load({"lease_ttl": 5}).lease_ttl == 7.0
    assert _load({"lease_ttl": 5}, lease_ttl=9).lease_ttl == 9.0


def test_the_keys_the_config_check_knows_are_the_settings() -> None:
    import dataclasses

    from prism_cli.cli.prism_settings import PrismSettings
    from prism_cli.cli.settings import CATALOG_TABLE, DEFAULTS, KEYS, SECTIONS_TABLE, Settings

    names = {f.name for f in dataclasses.fields(Settings)}
    assert set(PrismSettings.model_fields) == names == {*KEYS, CATALOG_TABLE, SECTIONS_TABLE}
    assert PrismSettings().model_dump() == dataclasses.asdict(DEFAULTS)


def test_a_bad_setting_in_the_file_names_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "prism.toml").write_text('region = "eu-west-1"\nlease_ttl = 0.1\n')
    make_docx(tmp_path / "d.docx", p("Plan", style="Heading1") + p("Text."))
    result = run_prism("review", "d.docx", "--offline", cwd=tmp_path)
    assert result.code == 4
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'prism.toml'}:2: lease_ttl = 0.1: "
        "Input should be greater than or equal to 0.5"
    )
    assert not list((tmp_path).glob("*.json"))


def test_a_bad_setting_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    make_docx(tmp_path / "d.docx", p("Text."))
    result = run_prism(
        "review", "d.docx", "--offline", cwd=tmp_path, env={"PRISM_PROGRESS_INTERVAL": "often"}
    )
    assert result.code == 4
    assert result.stderr.startswith("error: PRISM_PROGRESS_INTERVAL='often': Input should be")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_misspelt_setting_gets_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "prism.toml").write_text("lease_tll = 5\n")
    make_docx(tmp_path / "d.docx", p("Text."))
    result = run_prism("review", "d.docx", "--offline", "-f", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "unknown key 'lease_tll'; did you mean 'lease_ttl'?" in result.stderr


def test_the_lease_of_a_run_is_the_setting(tmp_path: Path) -> None:
    """The setting reaches the lease a review takes: the store holds it for that long."""
    from prism_cli.cli.application import Application
    from prism_cli.cli.settings import load_settings
    from prism_cli.console import Console
    from prism_cli.stores.service import Leases

    app = Application(
        Console(quiet=True),
        store_url=f"file://{tmp_path / 'store'}",
        settings=load_settings({"lease_ttl": 4.5}),
    )
    assert app.sessions.lease_ttl == 4.5
    assert Leases(app.sessions, ["abc"], wait=False).ttl == 4.5


def test_doctor_fails_on_a_bad_setting(tmp_path: Path) -> None:
    (tmp_path / "prism.toml").write_text("quota_period = -1\n")
    result = run_prism("doctor", "--offline", "--store", f"file://{tmp_path / 's'}", cwd=tmp_path)
    assert result.code == 4
    config = next(ln for ln in result.stdout.splitlines() if ln.split()[1:2] == ["config"])
    assert config.startswith("FAILED")
    assert "quota_period = -1: Input should be greater than 0" in config
