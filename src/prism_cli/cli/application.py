"""The object every command gets (hatch's ``Application`` is the model): the console, the
configuration, and the session store, opened on first use so commands that need none stay
fast and work without one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prism_cli.console import Console

if TYPE_CHECKING:
    from pathlib import Path

    from prism_cli.cli.settings import Settings
    from prism_cli.core.session import Sessions


class Application:
    def __init__(
        self,
        console: Console,
        config: dict[str, object] | None = None,
        *,
        store_url: str | None = None,
        config_path: Path | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.console = console
        self.config: dict[str, object] = dict(config or {})
        self.config_path = config_path
        self.store_url = store_url
        self._sessions: Sessions | None = None
        self._settings = settings

    @property
    def settings(self) -> Settings:
        """The run-wide settings (:mod:`prism_cli.cli.settings`), built on first use: from
        the environment and prism.toml, unless given."""
        if self._settings is None:
            from prism_cli.cli.settings import load_settings

            self._settings = load_settings(self.config, self.config_path)
        return self._settings

    @property
    def sessions(self) -> Sessions:
        """The session repository of ``--store`` (default: the user data dir), checked
        reachable the first time it is asked for."""
        if self._sessions is None:
            from prism_cli.errors import UsageError
            from prism_cli.stores.service import open_sessions

            try:
                self._sessions = open_sessions(self.store_url, lease_ttl=self.settings.lease_ttl)
            except UsageError as exc:
                raise UsageError(f"--store: {exc}") from exc
        return self._sessions

    def output_format(self, fmt: str | None, output: object = None) -> str:
        """The format asked for, else the one ``output``'s extension names (a file, not a
        folder), else a table on a terminal and JSON when piped; a format that contradicts
        the extension is a usage error."""
        from pathlib import Path

        from prism_cli.reports import output_format

        default = "table" if self.console.stdout_is_tty else "json"
        if output is None or Path(str(output)).is_dir() or str(output).endswith(("/", "\\")):
            return fmt or default
        return output_format(fmt, str(output), default)

    @property
    def catalog_overrides(self) -> dict[str, object]:
        """``[models.X]`` tables of prism.toml, for the model catalog."""
        return self.settings.catalog_overrides
